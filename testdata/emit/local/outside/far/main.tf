resource "aws_iam_policy" "far" {
  name   = "far"
  policy = jsonencode({ Statement = [{ Effect = "Allow", Action = ["s3:*"], Resource = "*" }] })
}
