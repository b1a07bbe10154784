//! `textDocument/definition`: from a stage use to its `AS name`, from a
//! variable use to the ARG/ENV that defines it.

use ls_types::{GotoDefinitionParams, GotoDefinitionResponse, Location};

use crate::lsp::analysis::{named_at, resolve_var, stages, var_sites};
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let p = params.text_document_position_params;
    let snap = session.snapshot(&p.text_document.uri)?;
    let enc = snap.features.encoding;
    let offset = snap.doc.offset(p.position, enc);
    let df = &snap.df;
    let span = match named_at(df, offset)? {
        crate::lsp::analysis::Named::Stage { occurrences, .. } => {
            occurrences.iter().find(|o| o.definition)?.span
        }
        crate::lsp::analysis::Named::Variable { .. } => {
            let sites = var_sites(df, &stages(df));
            let at = sites.iter().find(|s| s.span.touches(offset))?;
            if at.definition {
                resolve_var(&sites, at).map_or(at.span, |d| d.span)
            } else {
                resolve_var(&sites, at)?.span
            }
        }
    };
    Some(GotoDefinitionResponse::Scalar(Location::new(
        p.text_document.uri,
        range_to_lsp(df.range_in(span, enc)),
    )))
}
