//! The pre-traffic hook's effects on AWS: the deployment's target version
//! from CodeDeploy (`GetDeployment`, its AppSpec), the hook's outcome back
//! to it (`PutLifecycleEventHookExecutionStatus`), and the new version
//! invoked by number (Lambda `Invoke` with a qualifier).

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_lambda::primitives::Blob;
use loglake_handlers::canary::appspec_target;
use loglake_handlers::effects::{BoxFuture, Deployments, HookTarget, Invoker};
use serde_json::Value;

use crate::call_error;

/// CodeDeploy, for the hook.
#[derive(Debug, Clone)]
pub struct CodeDeployHooks {
    pub client: aws_sdk_codedeploy::Client,
}

impl CodeDeployHooks {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        CodeDeployHooks {
            client: aws_sdk_codedeploy::Client::new(aws),
        }
    }
}

impl Deployments for CodeDeployHooks {
    fn target<'a>(&'a self, deployment_id: &'a str) -> BoxFuture<'a, Result<HookTarget, String>> {
        Box::pin(async move {
            let d = self
                .client
                .get_deployment()
                .deployment_id(deployment_id)
                .send()
                .await
                .map_err(|e| call_error("codedeploy:GetDeployment", deployment_id, &e))?;
            let content = d
                .deployment_info()
                .and_then(|i| i.revision())
                .and_then(|r| r.app_spec_content())
                .and_then(|a| a.content())
                .ok_or_else(|| {
                    format!("deployment {deployment_id} has no AppSpec content in its revision")
                })?;
            appspec_target(content)
        })
    }

    fn report<'a>(
        &'a self,
        deployment_id: &'a str,
        execution_id: &'a str,
        succeeded: bool,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let status = if succeeded {
                LifecycleEventStatus::Succeeded
            } else {
                LifecycleEventStatus::Failed
            };
            self.client
                .put_lifecycle_event_hook_execution_status()
                .deployment_id(deployment_id)
                .lifecycle_event_hook_execution_id(execution_id)
                .status(status)
                .send()
                .await
                .map(drop)
                .map_err(|e| {
                    call_error(
                        "codedeploy:PutLifecycleEventHookExecutionStatus",
                        deployment_id,
                        &e,
                    )
                })
        })
    }
}

/// Lambda, invoking one version of a function and reading its answer.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    pub client: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    pub fn new(aws: &aws_config::SdkConfig) -> Self {
        LambdaInvoker {
            client: aws_sdk_lambda::Client::new(aws),
        }
    }
}

impl Invoker for LambdaInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        qualifier: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let target = format!("{function}:{qualifier}");
            let r = self
                .client
                .invoke()
                .function_name(function)
                .qualifier(qualifier)
                .payload(Blob::new(payload.to_string()))
                .send()
                .await
                .map_err(|e| call_error("lambda:InvokeFunction", &target, &e))?;
            let body = r.payload().map(|b| b.as_ref()).unwrap_or_default();
            let text = String::from_utf8_lossy(body);
            if let Some(kind) = r.function_error() {
                return Err(format!("{target} failed ({kind}): {text}"));
            }
            serde_json::from_slice(body)
                .map_err(|e| format!("{target} answered what is not JSON ({e}): {text}"))
        })
    }
}
