module "app" {
  source = "./modules/app"
}

module "vendor" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-policy"
  version = "5.0.0"

  policy = var.vendor_policy
}
