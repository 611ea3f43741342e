//! The printer's condition and the status bytes it answers with: paper, cover, online, the
//! cash drawer's sensor, what it says its maker and model are (`GS I 66` / `67`), and
//! the knobs that make it misbehave (silent, noisy, slow, small buffer, paper running out, overrun
//! without flow control, real-time commands obeyed inside data). Tests set them with
//! [`super::VirtualPrinter::set_state`].

/// The roll paper sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paper {
    Ok,
    NearEnd,
    Out,
}

/// The printer's condition; change it with [`VirtualPrinter::set_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterState {
    /// `false`: offline (engine stopped, `DLE EOT 1` bit 3).
    pub online: bool,
    pub paper: Paper,
    pub cover_open: bool,
    /// Never answer anything (`DLE EOT`, `GS r`): a one-way printer, a broken RX wire.
    pub silent: bool,
    /// Answer every `DLE EOT` and `GS r` with line noise instead (two bytes of a fixed
    /// pseudo-random sequence each, as a host at the wrong baud rate reads a reply).
    pub noise: bool,
    /// Pty only: when the receive buffer is full and the host uses no matching flow control,
    /// drop incoming bytes instead of making the writer wait.
    pub drop_without_flow_control: bool,
    /// The engine drains the receive buffer at this rate (e.g. `Some(960)` ≈ 9600 baud);
    /// `None`: at once.
    pub slow_reader_bytes_per_sec: Option<u32>,
    /// Pty only: software flow control, `XOFF` at ≥ 75 % full, `XON` at ≤ 25 %.
    pub xon_xoff: bool,
    /// Obey real-time commands found inside command payloads (image data), like some real
    /// printers do. See the module docs.
    pub realtime_in_data: bool,
    /// The drawer connector's pin 3 (the drawer's switch) is high: `DLE EOT 1` bit 2,
    /// `GS r 2` bit 0. Whether that is open or closed depends on the drawer's wiring.
    pub drawer_high: bool,
    /// The answer to `GS I 66` (maker, e.g. `EPSON`), sent as `_` text `NUL`; `None`: the
    /// printer does not answer it (as many clones).
    pub maker: Option<String>,
    /// The answer to `GS I 67` (model name, e.g. `TM-T88V`); `None`: no answer.
    pub model: Option<String>,
    /// Receive buffer size in bytes (default 4096).
    pub rx_buffer: usize,
    /// The paper runs out after this many more printed bytes (then `paper` becomes `Out`
    /// and this `None`): paper out in the middle of a receipt.
    pub paper_out_after_bytes: Option<usize>,
    /// The paper runs out right after this many more cuts: paper out between receipts.
    pub paper_out_after_cuts: Option<usize>,
}

impl Default for PrinterState {
    fn default() -> Self {
        PrinterState {
            online: true,
            paper: Paper::Ok,
            cover_open: false,
            silent: false,
            noise: false,
            drop_without_flow_control: false,
            slow_reader_bytes_per_sec: None,
            xon_xoff: false,
            realtime_in_data: false,
            drawer_high: false,
            maker: None,
            model: None,
            rx_buffer: 4096,
            paper_out_after_bytes: None,
            paper_out_after_cuts: None,
        }
    }
}

impl PrinterState {
    /// The engine is stopped: offline, cover open or paper out.
    pub fn held(&self) -> bool {
        !self.online || self.cover_open || self.paper == Paper::Out
    }

    /// The reply to `DLE EOT n`, `None` for an n the printer does not know.
    pub fn dle_eot_reply(&self, n: u8) -> Option<u8> {
        let mut b = 0x12;
        match n {
            1 => {
                if self.held() {
                    b |= 0x08;
                }
                if self.drawer_high {
                    b |= 0x04;
                }
            }
            2 => {
                if self.cover_open {
                    b |= 0x04;
                }
                if self.paper == Paper::Out {
                    b |= 0x20;
                }
            }
            3 => {}
            4 => match self.paper {
                Paper::Ok => {}
                Paper::NearEnd => b |= 0x0C,
                Paper::Out => b |= 0x0C | 0x60,
            },
            _ => return None,
        }
        Some(b)
    }

    /// The reply to `GS r n`, `None` for an n the printer does not know.
    pub fn gs_r_reply(&self, n: u8) -> Option<u8> {
        match n {
            1 | 49 => Some(match self.paper {
                Paper::Ok => 0x00,
                Paper::NearEnd => 0x03,
                Paper::Out => 0x0C,
            }),
            2 | 50 => Some(u8::from(self.drawer_high)),
            _ => None,
        }
    }

    /// The reply to `GS I n`: for 66 (maker) and 67 (model), `_` + the text + `NUL`
    /// (Epson's "printer information B"); `None` when the printer has nothing to say.
    pub fn gs_i_reply(&self, n: u8) -> Option<Vec<u8>> {
        let text = match n {
            66 => self.maker.as_deref()?,
            67 => self.model.as_deref()?,
            _ => return None,
        };
        Some([b"_", text.as_bytes(), b"\0"].concat())
    }
}
