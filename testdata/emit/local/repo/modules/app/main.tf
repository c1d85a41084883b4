data "aws_iam_policy_document" "worker" {
  statement {
    sid       = "Read"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = ["*"]
  }

  # Broad on purpose while we learn what the worker needs.
  statement {
    effect      = "Allow"
    not_actions = ["iam:*", "organizations:*"]
    resources   = ["*"]
  }
}

resource "aws_iam_policy" "worker" {
  name   = "worker"
  policy = data.aws_iam_policy_document.worker.json
}

resource "aws_iam_role_policy" "per_env" {
  for_each = toset(["dev", "prod"])

  name   = "per-env-${each.key}"
  role   = "worker"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
        Resource = "*"
      },
    ]
  })
}

module "far" {
  source = "../../../outside/far"
}
