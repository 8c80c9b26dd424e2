# ---------------------------------------------------------------------------------------------
# Deployed flows: Step Functions, the HTTP endpoint that starts them, event triggers
# ---------------------------------------------------------------------------------------------

variable "enable_step_functions" {
  type        = bool
  description = "Create what `step-functions create` needs: the Step Functions execution role, the EventBridge Scheduler role and an execution log group (needs enable_batch)."
  default     = true
}

variable "sfn_role_arn" {
  type        = string
  description = "Existing Step Functions execution role. Null: create it (with enable_step_functions)."
  default     = null
}

variable "scheduler_role_arn" {
  type        = string
  description = "Existing EventBridge Scheduler role that starts state machines. Null: create it (with enable_step_functions)."
  default     = null
}

variable "enable_http_api" {
  type        = bool
  description = "Create the HTTP endpoint (API Gateway HTTP API with AWS_IAM authorization on every route, and its Lambda function) that starts deployed flows and reports runs. No cost at rest (per request only); nothing public. Needs enable_step_functions and http_api_package_path."
  default     = true
}

variable "http_api_package_path" {
  type        = string
  description = "Zip of the HTTP endpoint's Lambda function (flowlib and its dependencies). `platform init/apply` builds it and sets this; null: no endpoint."
  default     = null
}

variable "http_api_runtime" {
  type        = string
  description = "Lambda runtime of the HTTP endpoint; must match the Python the package was built for (`platform` sets both)."
  default     = "python3.12"
}

variable "http_api_architecture" {
  type        = string
  description = "Lambda architecture of the HTTP endpoint (x86_64 or arm64); must match the package."
  default     = "x86_64"
}

variable "enable_events" {
  type        = bool
  description = "Create what event triggers need: the environment's event bus, the role EventBridge starts state machines with, events:PutEvents for the task roles, S3 EventBridge notifications."
  default     = true
}

variable "events_create_event_bus" {
  type        = bool
  description = "Give the environment an event bus of its own (named like the stack), so events of one environment never start another's flows. False: use events_event_bus_name."
  default     = true
}

variable "events_event_bus_name" {
  type        = string
  description = "Existing event bus, when events_create_event_bus is false. Null: the account's default bus."
  default     = null
}

variable "events_role_arn" {
  type        = string
  description = "Existing role EventBridge starts this environment's state machines with. Null: create it (with enable_events)."
  default     = null
}

variable "s3_bucket_eventbridge_notifications" {
  type        = bool
  description = "Send the artifact bucket's notifications to EventBridge (for @trigger(s3=...) on it; events from AWS services on the default bus cost nothing)."
  default     = true
}

variable "s3_event_buckets" {
  type        = list(string)
  description = "Other buckets of this account and region whose notifications go to EventBridge (for @trigger(s3=...)). The stack then owns each one's whole notification configuration: do not list a bucket that notifies SQS, SNS or Lambda."
  default     = []
}
