//! What a printer says it is: the answer of `wxprint printers --probe` and of the probe at
//! start-up. [`Identity`] holds the printer's status (`DLE EOT`), the maker and model it
//! gave to `GS I 66` / `GS I 67` (`_` + text + `NUL`, business reference §2.1), and the
//! built-in profile they match, from which `profile` and `qr` settings are suggested.
//!
//! A printer that does not answer, answers line noise, or names a model no profile lists is
//! reported as unknown: nothing is guessed. How the bytes are exchanged is `link/identify.rs`;
//! this file knows what the answers mean and how they are worded.

use std::fmt;

use super::profile::{self, Profile};
use crate::protocol::{DrawerState, Paper, PrinterStatus};

/// What a probe learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The transport, as [`super::Printer::describe`] puts it.
    pub transport: String,
    /// The printer's live status; its `error` says when it did not answer.
    pub status: PrinterStatus,
    /// Whether the printer answered its status request (`DLE EOT`) with valid bytes.
    pub answered: bool,
    /// Why `GS I` was not asked (no printer to ask, no answer to `DLE EOT`, line noise, a
    /// printer that cannot process commands now); `None` when it was.
    pub not_asked: Option<String>,
    /// The answer to `GS I 66`, when there was one.
    pub maker: Option<String>,
    /// The answer to `GS I 67`, when there was one.
    pub model: Option<String>,
}

impl Identity {
    /// A printer that was not asked who it is, and why; whether it `answered` `DLE EOT`.
    pub(crate) fn not_asked(
        transport: String,
        status: PrinterStatus,
        answered: bool,
        why: &str,
    ) -> Identity {
        Identity {
            transport,
            status,
            answered,
            not_asked: Some(why.to_owned()),
            maker: None,
            model: None,
        }
    }

    /// The built-in profile for the maker and model the printer gave; `None` when it gave
    /// none, or names no listed model.
    pub fn profile(&self) -> Option<&'static Profile> {
        profile::matching_id(self.maker.as_deref()?, self.model.as_deref()?)
    }

    /// The printer named as it named itself (`EPSON TM-T88V`), when it did.
    pub fn name(&self) -> Option<String> {
        let parts: Vec<&str> = [self.maker.as_deref(), self.model.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The suggested settings (`profile = "epson-tm-t88"`, `qr = "native"`), or why none is.
    pub fn suggestion(&self) -> String {
        match self.profile() {
            Some(p) => format!(
                "profile = \"{}\", qr = \"{}\" ({})",
                p.name,
                if p.native_qr { "native" } else { "raster" },
                p.description
            ),
            None => {
                let why = match (&self.not_asked, &self.maker, &self.model) {
                    (Some(why), ..) => format!("not identified ({why})"),
                    (None, Some(maker), Some(model)) => {
                        format!(
                            "{:?} matches no built-in profile",
                            format!("{maker} {model}")
                        )
                    }
                    _ => "it did not answer GS I 66/67 (maker, model)".to_owned(),
                };
                format!(
                    "none: unknown printer, {why}; keep a generic profile (\"80mm\" or \"58mm\") with qr = \"raster\", which prints on any ESC/POS printer"
                )
            }
        }
    }
}

/// One line of the status, e.g. `online, paper ok, cover closed, drawer closed`.
fn status_words(s: &PrinterStatus) -> String {
    if let (Paper::Unknown, Some(error)) = (s.paper, &s.error) {
        return error.clone();
    }
    let yes_no = |b: Option<bool>, yes: &'static str, no: &'static str| match b {
        Some(true) => yes,
        Some(false) => no,
        None => "unknown",
    };
    let mut words = format!(
        "{}, paper {}, cover {}, drawer {}",
        yes_no(s.online, "online", "offline"),
        match s.paper {
            Paper::Ok => "ok",
            other => other.as_str(),
        },
        yes_no(s.cover_open, "open", "closed"),
        match s.drawer {
            DrawerState::Unknown => "unknown",
            other => other.as_str(),
        }
    );
    if let Some(error) = &s.error {
        words.push_str(&format!(" ({error})"));
    }
    words
}

impl fmt::Display for Identity {
    /// The probe's report, a line each: the printer, its status, maker, model, suggestion.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unknown = |asked: &str| match &self.not_asked {
            Some(_) => "unknown (not asked)".to_owned(),
            None => format!("unknown (no answer to {asked})"),
        };
        writeln!(f, "printer    {}", self.transport)?;
        writeln!(f, "status     {}", status_words(&self.status))?;
        let maker = self.maker.clone().unwrap_or_else(|| unknown("GS I 66"));
        writeln!(f, "maker      {maker}")?;
        let model = self.model.clone().unwrap_or_else(|| unknown("GS I 67"));
        writeln!(f, "model      {model}")?;
        write!(f, "suggest    {}", self.suggestion())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> PrinterStatus {
        PrinterStatus {
            online: Some(true),
            paper: Paper::Ok,
            cover_open: Some(false),
            error: None,
            transport: Some("tcp x".into()),
            drawer: DrawerState::Closed,
        }
    }

    fn identity(maker: Option<&str>, model: Option<&str>) -> Identity {
        Identity {
            transport: "tcp x".into(),
            status: ready(),
            answered: true,
            not_asked: None,
            maker: maker.map(str::to_owned),
            model: model.map(str::to_owned),
        }
    }

    #[test]
    fn a_listed_model_suggests_its_profile() {
        let epson = identity(Some("EPSON"), Some("TM-T88V"));
        assert_eq!(epson.profile().map(|p| p.name), Some("epson-tm-t88"));
        let report = epson.to_string();
        assert!(
            report.contains("maker      EPSON\nmodel      TM-T88V\n"),
            "{report}"
        );
        assert!(
            report.contains("suggest    profile = \"epson-tm-t88\", qr = \"native\""),
            "{report}"
        );
        assert!(report.contains("status     online, paper ok, cover closed, drawer closed"));
    }

    #[test]
    fn anything_else_is_unknown() {
        for (who, says) in [
            (identity(None, None), "did not answer GS I 66/67"),
            (
                identity(Some("XPRINTER"), Some("XP-58IIH")),
                "\"XPRINTER XP-58IIH\" matches no built-in profile",
            ),
            (identity(Some("EPSON"), None), "did not answer"),
        ] {
            assert_eq!(who.profile(), None);
            let report = who.to_string();
            assert!(
                report.contains("suggest    none: unknown printer"),
                "{report}"
            );
            assert!(report.contains(says), "{report}");
        }
        let silent = Identity::not_asked(
            "tcp x".into(),
            crate::printer::status::unreachable("no answer".into(), None),
            false,
            "it did not answer DLE EOT",
        );
        let report = silent.to_string();
        assert!(
            report.contains("maker      unknown (not asked)"),
            "{report}"
        );
        assert!(
            report.contains("not identified (it did not answer DLE EOT)"),
            "{report}"
        );
    }
}
