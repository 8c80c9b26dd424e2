# The table's keys and indexes come from flowlib's own schema file (table_schema.json is a
# symlink to flowlib/metadata/table_schema.json), so the code and the table cannot drift.

locals {
  schema     = jsondecode(file("${path.module}/table_schema.json"))
  table_name = coalesce(var.table_name, "${var.name}-metadata")

  hash_key  = local.schema.hash_key
  range_key = try(local.schema.range_key, null)
  gsis      = try(local.schema.global_secondary_indexes, [])

  # Every key attribute of the table and its indexes, declared once each.
  key_attributes = concat(
    [local.hash_key],
    local.range_key == null ? [] : [local.range_key],
    flatten([for g in local.gsis : concat([g.hash_key], try(g.range_key, null) == null ? [] : [g.range_key])]),
  )
  attributes = { for a in local.key_attributes : a.name => a.type... }

  kms_key_arn = var.kms_key_arn
}

resource "aws_dynamodb_table" "this" {
  name                        = local.table_name
  billing_mode                = local.schema.billing_mode
  hash_key                    = local.hash_key.name
  range_key                   = try(local.range_key.name, null)
  deletion_protection_enabled = var.table_deletion_protection_enabled

  dynamic "attribute" {
    for_each = local.attributes
    content {
      name = attribute.key
      # Grouped by name: one attribute used in several keys must have one type.
      type = one(distinct(attribute.value))
    }
  }

  dynamic "global_secondary_index" {
    for_each = { for g in local.gsis : g.name => g }
    content {
      name               = global_secondary_index.key
      hash_key           = global_secondary_index.value.hash_key.name
      range_key          = try(global_secondary_index.value.range_key.name, null)
      projection_type    = try(global_secondary_index.value.projection_type, "ALL")
      non_key_attributes = try(global_secondary_index.value.non_key_attributes, null)
    }
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  tags = var.tags
}
