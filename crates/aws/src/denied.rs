//! One message for a failed AWS call, naming the IAM action and the
//! resource: an access denial reads as a missing grant, never as "not
//! found" or a bare service error.

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;

/// Whether a failed call was refused by IAM (or a resource or key policy):
/// its error code says so, or, when the SDK could not read a code, a 403
/// whose body says so or has none (S3 answers `HEAD` without a body). A
/// 403 for a bad signature or an expired token is not a denial.
pub fn is_denied<E: ProvideErrorMetadata>(e: &SdkError<E, Response>) -> bool {
    if let Some(code) = e.code() {
        return code.starts_with("AccessDenied");
    }
    e.raw_response().is_some_and(|r| {
        r.status().as_u16() == 403
            && r.body()
                .bytes()
                .is_none_or(|b| b.is_empty() || b.windows(12).any(|w| w == b"AccessDenied"))
    })
}

/// `access denied: s3:GetObject on arn:aws:s3:::b/k (the role needs this
/// grant): ...` for a denial, `s3:GetObject on arn:aws:s3:::b/k: ...` for
/// any other failure.
pub fn call_error<E>(action: &str, resource: &str, e: &SdkError<E, Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if is_denied(e) {
        format!(
            "access denied: {action} on {resource} (the function's role needs this grant): {}",
            DisplayErrorContext(e)
        )
    } else {
        format!("{action} on {resource}: {}", DisplayErrorContext(e))
    }
}
