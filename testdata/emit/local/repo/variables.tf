variable "computed_policy" {
  type = string
}

variable "vendor_policy" {
  type = string
}
