//! The pre-traffic hook against a local AWS that enforces IAM: the hook
//! runs as fn-canary's role from `infra/policies/`, reads the deployment's
//! AppSpec from CodeDeploy (moto), puts the canary object, and the "new
//! version" of fn-ingest (its real handler, in-process, under fn-ingest's
//! role) ingests it. moto has no `PutLifecycleEventHookExecutionStatus`
//! and runs no Lambda code, so the report is recorded and the invoke is a
//! call; everything else is the real thing.
// Integration-test code throughout, helpers included (see clippy.toml).
#![cfg(test)]

use std::sync::{Arc, Mutex};

use aws_sdk_codedeploy::types::{
    AppSpecContent, ComputePlatform, DeploymentOption, DeploymentStyle, DeploymentType,
    RevisionLocation, RevisionLocationType,
};
use loglake_aws::S3Store;
use loglake_aws::canary::CodeDeployHooks;
use loglake_handlers::canary::Canary;
use loglake_handlers::effects::{BoxFuture, Deployments, HookTarget, Invoker};
use loglake_handlers::ingest::{Ingest, IngestSettings};
use loglake_testkit::LocalAws;
use loglake_testkit::iam;
use serde_json::{Value, json};

/// CodeDeploy's answer read for real, the report recorded.
struct Recorded {
    real: CodeDeployHooks,
    reports: Mutex<Vec<bool>>,
}

impl Deployments for Recorded {
    fn target<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<HookTarget, String>> {
        self.real.target(id)
    }

    fn report<'a>(&'a self, _: &'a str, _: &'a str, ok: bool) -> BoxFuture<'a, Result<(), String>> {
        self.reports.lock().unwrap().push(ok);
        Box::pin(async { Ok(()) })
    }
}

/// fn-ingest's handler standing for the version CodeDeploy invokes.
struct InProcess(Ingest);

impl Invoker for InProcess {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
        payload: Value,
    ) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            assert_eq!((function, version), ("shop-fn-ingest", "8"));
            self.0.handle(payload).await.map_err(|e| e.to_string())
        })
    }
}

/// A Lambda deployment in moto's CodeDeploy moving fn-ingest from 7 to 8.
async fn deployment(local: &LocalAws) -> (String, String) {
    let cd = aws_sdk_codedeploy::Client::new(&local.aws);
    let app = format!("loglake-{}", local.id);
    cd.create_application()
        .application_name(&app)
        .compute_platform(ComputePlatform::Lambda)
        .send()
        .await
        .unwrap();
    cd.create_deployment_group()
        .application_name(&app)
        .deployment_group_name("fn-ingest")
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .deployment_style(
            DeploymentStyle::builder()
                .deployment_option(DeploymentOption::WithTrafficControl)
                .deployment_type(DeploymentType::BlueGreen)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let spec = json!({
        "version": 0.0,
        "Resources": [{"shop-fn-ingest": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": "shop-fn-ingest", "Alias": "live", "CurrentVersion": "7", "TargetVersion": "8"}}}],
        "Hooks": [{"BeforeAllowTraffic": "shop-fn-canary"}],
    });
    let d = cd
        .create_deployment()
        .application_name(&app)
        .deployment_group_name("fn-ingest")
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(spec.to_string()).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    (d.deployment_id().unwrap().to_string(), app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_is_let_in_only_when_it_keeps_the_canary_apart_and_exact() {
    let local = LocalAws::enforced("canary").await;
    let raw = local.bucket("raw").await;
    let curated = local.bucket("curated").await;
    let (id, app) = deployment(&local).await;
    let ingest_role = local.role(
        "fn-ingest",
        &iam::ingest_policy(&raw, &curated, &format!("q-{raw}")),
    );
    let canary_role = local.role("fn-canary", &iam::canary_policy(&raw, &curated, &app));
    let hook = |version: Ingest| {
        let s3 = loglake_aws::s3_client(&canary_role.aws);
        let deployments = Arc::new(Recorded {
            real: CodeDeployHooks::new(&canary_role.aws),
            reports: Mutex::new(Vec::new()),
        });
        let canary = Canary {
            deployments: deployments.clone(),
            invoker: Arc::new(InProcess(version)),
            bucket: raw.clone(),
            objects: Arc::new(S3Store::new(
                s3.clone(),
                raw.clone(),
                "_canary/",
                tokio::runtime::Handle::current(),
            )),
            lake: Arc::new(S3Store::new(
                s3,
                curated.clone(),
                "",
                tokio::runtime::Handle::current(),
            )),
            prefix: "_canary/".into(),
        };
        (canary, deployments)
    };
    let event = json!({"DeploymentId": id, "LifecycleEventHookExecutionId": "exec-1"});

    // The build being deployed: canary objects kept apart from the lake.
    let good = local.through(ingest_role.aws.clone()).ingest(
        &curated,
        IngestSettings {
            canary_prefix: Some("_canary/".into()),
            ..IngestSettings::default()
        },
    );
    let (canary, reports) = hook(good);
    let v = canary
        .handle(event.clone(), loglake_handlers::now_ms())
        .await
        .unwrap();
    assert_eq!(v["status"], "Succeeded", "{v}");
    assert_eq!(
        (v["function"].as_str(), v["version"].as_str()),
        (Some("shop-fn-ingest"), Some("8"))
    );
    assert_eq!(*reports.reports.lock().unwrap(), [true]);
    let lake = local.objects(&curated, "").await;
    assert!(
        lake.keys().all(|k| k.starts_with("_canary/")),
        "{:?}",
        lake.keys()
    );
    assert!(lake.keys().any(|k| k.starts_with("_canary/logs/dt=")));

    // The canary's upload also notifies the live version through SQS: it
    // is acknowledged and skipped, so only the invoked version writes.
    let live = local
        .through(ingest_role.aws.clone())
        .ingest(&curated, IngestSettings::default());
    let key = format!("_canary/{}.ndjson", v["deployment"].as_str().unwrap());
    let notification = loglake_testkit::s3_notification(&raw, &key, 10, "etag");
    let r = live
        .handle(json!({"Records": [loglake_testkit::sqs_record("m-1", &notification)]}))
        .await
        .unwrap();
    assert_eq!(r["batchItemFailures"], json!([]), "{r}");
    assert_eq!(
        local.objects(&curated, "").await.len(),
        lake.len(),
        "nothing written"
    );

    // A build that would write the canary into the lake (an older one, or
    // a broken one): refused before any traffic moves.
    let old = local.through(ingest_role.aws.clone()).ingest(
        &curated,
        IngestSettings {
            canary_prefix: None,
            ..IngestSettings::default()
        },
    );
    let (canary, reports) = hook(old);
    let v = canary
        .handle(event, loglake_handlers::now_ms())
        .await
        .unwrap();
    assert_eq!(v["status"], "Failed", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("not under _canary/_manifests/"),
        "{v}"
    );
    assert_eq!(*reports.reports.lock().unwrap(), [false]);
}
