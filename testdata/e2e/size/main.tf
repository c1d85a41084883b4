# Roles granted everything, for issue 14 end to end (tests/it/cli_e2e_size.rs): the usage the test
# writes makes each kept list long enough to be split over statements, over policies, or both.

locals {
  lambda_trust = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "lambda.amazonaws.com" } }]
  })
}

resource "aws_iam_role" "admin" {
  name               = "size-admin"
  assume_role_policy = local.lambda_trust
}

# Over a thousand used actions: over any one policy, so managed policies in iamtrim.suggested.tf.
resource "aws_iam_role_policy" "admin" {
  name = "admin"
  role = aws_iam_role.admin.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Admin"
        Effect   = "Allow"
        Action   = "*"
        Resource = "*"
      },
    ]
  })
}

resource "aws_iam_role" "ops" {
  name               = "size-ops"
  assume_role_policy = local.lambda_trust
}

# A few hundred used actions: within the role's limit, patched as several statement blocks.
data "aws_iam_policy_document" "ops" {
  statement {
    sid       = "Ops"
    actions   = ["*"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "ops" {
  name   = "ops"
  role   = aws_iam_role.ops.id
  policy = data.aws_iam_policy_document.ops.json
}

resource "aws_iam_role" "deploy" {
  name               = "size-deploy"
  assume_role_policy = local.lambda_trust
}

# A managed policy in a heredoc: within 6,144 characters, patched as several statements.
resource "aws_iam_policy" "deploy" {
  name   = "size-deploy"
  policy = <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "Deploy",
      "Effect": "Allow",
      "Action": "*",
      "Resource": "*"
    }
  ]
}
EOF
}

resource "aws_iam_role_policy_attachment" "deploy" {
  role       = aws_iam_role.deploy.name
  policy_arn = aws_iam_policy.deploy.arn
}

resource "aws_iam_role" "pair" {
  name               = "size-pair"
  assume_role_policy = local.lambda_trust
}

# Two inline policies that each fit the role's 10,240 characters as suggested, but not together.
resource "aws_iam_role_policy" "pair_a" {
  name = "pair-a"
  role = aws_iam_role.pair.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "A"
      Effect   = "Allow"
      Action   = "*"
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy" "pair_b" {
  name = "pair-b"
  role = aws_iam_role.pair.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "TheLargerOfTheTwo"
      Effect   = "Allow"
      Action   = "*"
      Resource = "*"
    }]
  })
}

# A group's two inline policies that each fit its 5,120 characters as suggested, but not together;
# its member user, granted everything, comes first in the report (riskier), so the group's
# policies are first met under the user, whose own inline limit they do not count against.
resource "aws_iam_group" "team" {
  name = "size-team"
}

resource "aws_iam_group_policy" "team_ec2" {
  name  = "team-ec2"
  group = aws_iam_group.team.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "Compute"
      Effect   = "Allow"
      Action   = "ec2:*"
      Resource = "*"
    }]
  })
}

resource "aws_iam_group_policy" "team_ml" {
  name  = "team-ml"
  group = aws_iam_group.team.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "Models"
      Effect   = "Allow"
      Action   = "sagemaker:*"
      Resource = "*"
    }]
  })
}

resource "aws_iam_user" "dev" {
  name = "size-dev"
}

resource "aws_iam_user_policy" "dev" {
  name = "dev"
  user = aws_iam_user.dev.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "Dev"
      Effect   = "Allow"
      Action   = "*"
      Resource = "*"
    }]
  })
}

resource "aws_iam_user_group_membership" "dev" {
  user   = aws_iam_user.dev.name
  groups = [aws_iam_group.team.name]
}
