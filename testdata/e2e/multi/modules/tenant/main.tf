variable "name" {
  type = string
}

resource "aws_iam_role" "this" {
  name = "tenant-${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "lambda.amazonaws.com" }
    }]
  })
}

resource "aws_iam_role_policy" "this" {
  name = "tables"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17",
    Statement = [{
      Sid = "Tables",
      Effect = "Allow",
      Action = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:DeleteTable"],
      Resource = "arn:aws:dynamodb:eu-west-1:111122223333:table/tenant-${var.name}"
    }]
  })
}
