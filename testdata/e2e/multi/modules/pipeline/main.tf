variable "name" {
  type        = string
  description = "Name of the pipeline role"
}

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "codebuild.amazonaws.com" }
    }]
  })
}

data "aws_iam_policy_document" "this" {
  statement {
    sid     = "Artifacts"
    actions = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:DeleteBucket"]
    resources = [
      "arn:aws:s3:::orders-artifacts",
      "arn:aws:s3:::orders-artifacts/*",
    ]
  }

  # Left over from the CodeCommit days.
  statement {
    sid       = "Repo"
    actions   = ["codecommit:GetRepository", "codecommit:CreateBranch", "codecommit:DeleteRepository"]
    resources = ["*"]
  }

  statement {
    sid         = "Build"
    effect      = "Allow"
    not_actions = ["iam:*", "organizations:*", "account:*", "s3:*", "ec2:*", "rds:*", "lambda:*", "dynamodb:*", "sqs:*", "sns:*", "kms:*", "secretsmanager:*", "cloudformation:*", "glue:*", "sagemaker:*"]
    resources   = ["arn:aws:codebuild:eu-west-1:111122223333:project/orders"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "pipeline"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_iam_role_policy" "logs" {
  name = "logs"
  role = aws_iam_role.this.id
  # Indented heredoc; the log group is per team.
  policy = <<-EOF
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Sid": "Logs",
          "Effect": "Allow",
          "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogGroup"],
          "Resource": "arn:aws:logs:eu-west-1:111122223333:log-group:/pipeline/$${aws:PrincipalTag/team}:*"
        }
      ]
    }
  EOF
}

module "builder" {
  source = "./builder"

  name = "${var.name}-builder"
}
