output "application_name" {
  description = "Name of the CodeDeploy application (<prefix>-functions), compute platform Lambda."
  value       = aws_codedeploy_app.this.name
}

output "application_arn" {
  description = "ARN of the CodeDeploy application: the pipeline's release role registers and reads revisions of it."
  value       = "arn:${var.partition}:codedeploy:${var.region}:${var.account_id}:application:${aws_codedeploy_app.this.name}"
}

output "deployment_group_arns" {
  description = "ARNs of the deployment groups by function key (arn:...:deploymentgroup:<application>/<group>), built from the names (known before the groups exist): the pipeline's release role creates and reads deployments of these, and a pre-traffic hook reads and reports on its group's."
  value       = { for k, f in var.functions : k => "${local.group_arn}/${f.name}" }
}

output "role_arn" {
  description = "ARN of CodeDeploy's service role (<prefix>-codedeploy)."
  value       = aws_iam_role.this.arn
}

output "deployments" {
  description = "What scripts/deploy-functions.py deploys, one entry per function: region, CodeDeploy application and deployment group, the function, its alias, and the pre-traffic hook function (null for none), which goes into the AppSpec's Hooks."
  value = [
    for k, f in var.functions : {
      region           = var.region
      application      = aws_codedeploy_app.this.name
      deployment_group = aws_codedeploy_deployment_group.this[k].deployment_group_name
      function_name    = f.name
      alias            = f.alias
      hook             = try(var.hooks[k].name, null)
    }
  ]
}
