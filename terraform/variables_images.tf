# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

variable "create_ecr_repository" {
  type        = bool
  description = "Create the ECR repository for the step runtime image (images/)."
  default     = true
}

variable "ecr_repository_name" {
  type        = string
  description = "Name of the ECR repository. Null: <name>/step."
  default     = null
}

variable "ecr_repository_force_delete" {
  type        = bool
  description = "Let terraform destroy delete the repository with its images."
  default     = false
}

variable "image_tag" {
  type        = string
  description = "Tag of the step image in the stack's ECR repository that flowlib uses by default. Null: no default image from ECR."
  default     = null
}

variable "image" {
  type        = string
  description = "Full default step image reference, overriding the ECR repository and image_tag. Null: use them."
  default     = null
}
