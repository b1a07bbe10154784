//! The semantic token legend: the token types and modifiers the server
//! announces (`capabilities`) and emits (`api/semantic_tokens`), by index. A
//! leaf, so the capabilities do not import a request handler.

use ls_types::{SemanticTokenModifier, SemanticTokenType, SemanticTokensLegend};

pub const KEYWORD: u32 = 0;
pub const COMMENT: u32 = 1;
pub const MACRO: u32 = 2;
pub const STRING: u32 = 3;
pub const PROPERTY: u32 = 4;
pub const CLASS: u32 = 5;
pub const VARIABLE: u32 = 6;

/// Modifier bits.
pub const DECLARATION: u32 = 1;
pub const DEPRECATED: u32 = 2;

/// The legend, in the order of the indices above.
pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: vec![
            SemanticTokenType::KEYWORD,
            SemanticTokenType::COMMENT,
            SemanticTokenType::MACRO,
            SemanticTokenType::STRING,
            SemanticTokenType::PROPERTY,
            SemanticTokenType::CLASS,
            SemanticTokenType::VARIABLE,
        ],
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DEPRECATED,
        ],
    }
}
