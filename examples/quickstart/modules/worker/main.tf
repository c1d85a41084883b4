variable "name" {
  type = string
}

variable "bucket" {
  type = string
}

resource "aws_iam_role" "this" {
  name = var.name
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  name = "${var.name}-policy"
  role = aws_iam_role.this.id

  # Written for the first prototype; the worker only reads reports and a queue now.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Storage"
        Effect   = "Allow"
        Action   = ["s3:*"]
        Resource = ["arn:aws:s3:::acme-reports", "arn:aws:s3:::acme-reports/*"]
      },
      {
        Sid      = "Queue"
        Effect   = "Allow"
        Action   = ["sqs:*"]
        Resource = "*"
      },
      {
        Sid      = "Logs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogGroup"]
        Resource = "*"
      },
      {
        Sid      = "Admin"
        Effect   = "Allow"
        Action   = ["iam:*"]
        Resource = "*"
      },
    ]
  })
}

output "role_arn" {
  value = aws_iam_role.this.arn
}
