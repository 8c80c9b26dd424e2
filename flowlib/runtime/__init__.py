"""Running flows: the task executor (``task``), how tasks are launched (``launcher``), the
local scheduler (``scheduler``) and resume (``resume``)."""
