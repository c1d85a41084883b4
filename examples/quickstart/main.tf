terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

# The report worker: a role in a local child module with a policy written years ago.
module "worker" {
  source = "./modules/worker"

  name   = "report-worker"
  bucket = "acme-reports"
}

# CI deploys the static site; its policy is a policy document data source.
data "aws_iam_policy_document" "ci_deploy" {
  statement {
    sid = "Site"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:ListBucket",
      "s3:PutBucketPolicy",
    ]
    resources = [
      "arn:aws:s3:::acme-site",
      "arn:aws:s3:::acme-site/*",
    ]
  }

  statement {
    sid = "Cdn"
    actions = [
      "cloudfront:CreateInvalidation",
      "cloudfront:GetDistribution",
      "cloudfront:UpdateDistribution",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role" "ci_deploy" {
  name = "ci-deploy"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRoleWithWebIdentity"
      Principal = { Federated = "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com" }
    }]
  })
}

resource "aws_iam_role_policy" "ci_deploy" {
  name   = "deploy"
  role   = aws_iam_role.ci_deploy.id
  policy = data.aws_iam_policy_document.ci_deploy.json
}

# An auditor with AWS's read-only policy.
resource "aws_iam_user" "auditor" {
  name = "auditor"
}

resource "aws_iam_user_policy_attachment" "auditor_readonly" {
  user       = aws_iam_user.auditor.name
  policy_arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
}
