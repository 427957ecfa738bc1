//! `vitals baseline save|list|delete`: a service's numbers pinned under a name in the
//! trace store (see [`crate::providers::baselines`]), for `vitals regressions --baseline`.

use super::args::{BaselineAction, BaselineFlags};
use super::{print_json, print_lines, write_stdout};
use crate::error::Result;
use crate::providers::baselines::{delete, list, save};
use crate::providers::otlp::OtlpProvider;
use crate::query::now_ns;
use crate::render::baselines::render;

pub async fn baseline(flags: BaselineFlags) -> Result<()> {
    let store_path = flags.db.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let provider = OtlpProvider::open(&store_path)?;
    match flags.action {
        BaselineAction::Save { service, name, window } => {
            let saved = save(&provider, &service, name.as_deref(), &window, now_ns()).await?;
            match flags.json {
                true => print_json(&saved),
                false => print_lines(&render(std::slice::from_ref(&saved))),
            }
        }
        BaselineAction::List { service } => {
            let saved = list(&provider, service.as_deref().unwrap_or_default()).await?;
            match flags.json {
                true => print_json(&saved),
                false => print_lines(&render(&saved)),
            }
        }
        BaselineAction::Delete { service, name } => {
            delete(&provider, &service, &name).await?;
            write_stdout(&format!("Deleted the baseline {name} of {service}\n"))
        }
    }
}
