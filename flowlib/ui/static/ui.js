// Live updates for pages of running runs and tasks: poll the JSON endpoints and change
// text and classes only (textContent, never innerHTML: logs and names stay text).
"use strict";

const POLL_MS = 2000;

function setBadge(el, status) {
  if (!el) return;
  el.textContent = status;
  el.className = "ui-badge st-" + status;
  el.dataset.status = status;
}

async function pollRun(box) {
  const response = await fetch(box.dataset.statusUrl, {cache: "no-store"});
  if (!response.ok) return false;
  const data = await response.json();
  setBadge(document.querySelector("#run-status .ui-badge"), data.status);
  for (const [name, step] of Object.entries(data.steps)) {
    const node = document.querySelector(`.fl-graph .fl-step[data-step="${CSS.escape(name)}"]`);
    if (node) {
      node.classList.forEach(c => { if (c.startsWith("st-")) node.classList.remove(c); });
      node.classList.add("st-" + step.status);
      node.dataset.status = step.status;
      const label = node.querySelector(".fl-step-status");
      if (label) label.textContent = step.status;
    }
    const row = document.querySelector(`#steps tr[data-step="${CSS.escape(name)}"]`);
    if (row) {
      setBadge(row.querySelector(".ui-badge"), step.status);
      row.querySelector(".step-duration").textContent = step.duration;
      const tasks = row.querySelector(".step-tasks");
      if (tasks && tasks.firstChild) tasks.firstChild.textContent = step.tasks + " ";
    }
  }
  return data.status === "running";
}

async function pollLogs(box) {
  const response = await fetch(box.dataset.logsUrl, {cache: "no-store"});
  if (!response.ok) return false;
  const data = await response.json();
  for (const stream of ["stdout", "stderr"]) {
    const pre = document.getElementById("log-" + stream);
    if (pre && pre.textContent !== data[stream]) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.textContent = data[stream];
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
  }
  setBadge(document.querySelector("#task-status .ui-badge"), data.status);
  if (data.status !== "running") {
    const note = document.getElementById("log-note");
    if (note) note.textContent = "The attempt ended: reload for its artifacts and cards.";
  }
  return data.status === "running";
}

function every(fn, box) {
  const tick = async () => {
    let again = false;
    try { again = await fn(box); } catch (err) { again = true; }
    if (again) setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const run = document.querySelector(".ui-live[data-run-status='running']");
  if (run) every(pollRun, run);
  const task = document.querySelector(".ui-live-logs[data-task-status='running']");
  if (task) every(pollLogs, task);
});
