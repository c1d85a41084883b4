terraform {
  required_version = ">= 1.5"
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

/*
  The orders service: an application role, its workers, a deploy user,
  a CI pipeline (with a nested builder) and one role per tenant.
*/

# The application role.
resource "aws_iam_role" "app" {
  name               = "orders-app"
  assume_role_policy = data.aws_iam_policy_document.ecs_trust.json
}

# The reporting job's role owns its only policy, inline, in the role itself.
resource "aws_iam_role" "reporting" {
  name               = "orders-reporting"
  assume_role_policy = data.aws_iam_policy_document.ecs_trust.json

  inline_policy {
    name   = "cache"
    policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Cache",
      "Effect": "Allow",
      "Action": [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:DeleteTable"
      ],
      "Resource": "arn:aws:dynamodb:eu-west-1:111122223333:table/orders-cache"
    }
  ]
}
EOF
  }
}

data "aws_iam_policy_document" "ecs_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "app" {
  name = "orders-app"
  role = aws_iam_role.app.id

  # TODO(orders#118): narrow the bucket once the uploader is gone.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      { # one object per line is how the first author liked it
        Sid    = "Objects",
        Effect = "Allow",
        Action = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        # Each user writes under their own prefix.
        Resource = "arn:aws:s3:::orders-data/home/$${aws:username}/*"
      },
      {
        Sid      = "Queues"
        Effect   = "Allow"
        Action   = "sqs:*" // every queue action, for now
        Resource = "arn:aws:sqs:eu-west-1:111122223333:orders-*"
      },
      {
        Sid      = "Mail"
        Effect   = "Allow"
        Action   = ["ses:SendEmail", "ses:SendRawEmail"]
        Resource = "*"
      }
    ]
  })
}

# Shared KMS and secrets access, kept as a JSON file for the security team to review.
resource "aws_iam_policy" "shared" {
  name        = "orders-shared"
  description = "Keys and secrets of the orders service"
  policy      = file("${path.module}/policies/shared.json")
}

resource "aws_iam_role_policy_attachment" "app_shared" {
  role       = aws_iam_role.app.name
  policy_arn = aws_iam_policy.shared.arn
}

# Two queue workers, one per partition.
resource "aws_iam_role" "worker" {
  count = 2

  name               = "orders-worker-${count.index}"
  assume_role_policy = data.aws_iam_policy_document.ecs_trust.json
}

resource "aws_iam_role_policy" "worker" {
  count = 2
  name  = "queue"
  role  = aws_iam_role.worker[count.index].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "Queue"
        Effect = "Allow"
        Action = [
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:SendMessage",
          "sqs:PurgeQueue",
        ]
        Resource = "arn:aws:sqs:eu-west-1:111122223333:orders-${count.index}"
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogStream"]
        Resource = "*"
      },
    ]
  })
}

# The deploy user pushes images from the release laptop (yes, really).
resource "aws_iam_user" "deployer" {
  name = "orders-deployer"
}

resource "aws_iam_user_policy" "deployer" {
  name   = "push"
  user   = aws_iam_user.deployer.name
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"Push\",\"Effect\":\"Allow\",\"Action\":[\"ecr:GetAuthorizationToken\",\"ecr:PutImage\",\"ecr:BatchGetImage\",\"ecr:DeleteRepository\"],\"Resource\":[\"*\",\"arn:aws:ecr:eu-west-1:111122223333:repository/$${aws:username}-*\"]}]}"
}

module "pipeline" {
  source = "./modules/pipeline"

  name = "orders-pipeline"
}

module "tenant" {
  source   = "./modules/tenant"
  for_each = toset(["blue", "green"])

  name = each.key
}
