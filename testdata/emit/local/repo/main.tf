terraform {
  required_version = ">= 1.5"
}

# The application role.
resource "aws_iam_role" "app" {
  name               = "app"
  assume_role_policy = "{}"
}

resource "aws_iam_role_policy" "app" {
  name = "app"
  role = aws_iam_role.app.id

  # Keep this list short.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Objects"
        Effect   = "Allow"
        Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
        Resource = "arn:aws:s3:::app-data/*"
      },
      {
        Sid      = "Queues"
        Effect   = "Allow"
        Action   = "sqs:*"
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_policy" "heredoc" {
  name   = "heredoc"
  policy = <<-EOF
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"],
          "Resource": "arn:aws:dynamodb:*:*:table/$${aws:username}"
        }
      ]
    }
  EOF
}

resource "aws_iam_policy" "quoted" {
  name   = "quoted"
  policy = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"logs:CreateLogStream\",\"logs:PutLogEvents\",\"logs:DeleteLogGroup\"],\"Resource\":\"*\"}]}"
}

resource "aws_iam_policy" "from_file" {
  name   = "from-file"
  policy = file("${path.module}/policies/read.json")
}

resource "aws_iam_policy" "computed" {
  name   = "computed"
  policy = var.computed_policy
}

module "app" {
  source = "./modules/app"
}

module "linked" {
  source = "./modules/linked"
}

module "vendor" {
  source  = "terraform-aws-modules/iam/aws//modules/iam-policy"
  version = "5.0.0"

  policy = var.vendor_policy
}
