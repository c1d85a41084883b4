resource "aws_iam_policy" "linked" {
  name   = "linked"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["s3:*"], Resource = "*" }] })
}
