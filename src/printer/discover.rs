//! `wxprint printers`: the devices a receipt printer may be on, read from sysfs (no libudev
//! needed): USB-serial and CDC-ACM ports, on-board serial ports (`ttyS*`) that have a UART,
//! and usblp printers, each with its USB vendor and product id, product string, and the
//! built-in profiles that likely match.
//!
//! It only reads sysfs: it never opens a device, and it does not choose for the technician.

use std::path::{Path, PathBuf};

use super::profile;

/// One candidate device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `/dev/ttyUSB0`, `/dev/usb/lp0`…
    pub device: PathBuf,
    /// `serial` or `usb`: the `printer.transport` to use.
    pub transport: &'static str,
    /// The USB vendor and product id (`idVendor`, `idProduct`); `None` when no USB device
    /// was found above the port in sysfs, or its ids are unreadable.
    pub usb_id: Option<(u16, u16)>,
    /// The USB device's product string (`POS58 Printer`); `None` when it has none.
    pub product: Option<String>,
    /// The USB device's manufacturer string; `None` when it has none.
    pub manufacturer: Option<String>,
    /// Names of built-in profiles known to use this USB id.
    pub profiles: Vec<&'static str>,
}

/// Scan `sys` (normally `/sys`) for serial ports and usblp printers.
pub fn scan(sys: &Path) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (class, prefixes, transport, dev_dir) in [
        ("tty", &["ttyUSB", "ttyACM", "ttyS"][..], "serial", "/dev"),
        ("usbmisc", &["lp"][..], "usb", "/dev/usb"),
    ] {
        let Ok(entries) = std::fs::read_dir(sys.join("class").join(class)) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| prefixes.iter().any(|p| n.starts_with(p)))
            .filter(|n| !n.starts_with("ttyS") || has_uart(&sys.join("class/tty").join(n)))
            .collect();
        names.sort();
        for name in names {
            let node = sys.join("class").join(class).join(&name).join("device");
            let usb = usb_device(&node);
            let usb_id = usb
                .as_ref()
                .and_then(|d| Some((hex_attr(d, "idVendor")?, hex_attr(d, "idProduct")?)));
            let profiles = usb_id
                .map(|(v, p)| profile::matching_usb(v, p).map(|p| p.name).collect())
                .unwrap_or_default();
            found.push(Candidate {
                device: Path::new(dev_dir).join(&name),
                transport,
                usb_id,
                product: usb.as_ref().and_then(|d| attr(d, "product")),
                manufacturer: usb.as_ref().and_then(|d| attr(d, "manufacturer")),
                profiles,
            });
        }
    }
    found
}

/// Whether an on-board serial port (`ttyS*`) has a UART behind it: the kernel makes the
/// legacy ports whether or not the hardware is there, and says `type` 0 (`PORT_UNKNOWN`) or
/// gives no `device` for the absent ones.
fn has_uart(class_dir: &Path) -> bool {
    class_dir.join("device").exists() && attr(class_dir, "type").is_some_and(|t| t != "0")
}

/// The USB device (the directory with `idVendor`) above a class device's `device` link.
fn usb_device(node: &Path) -> Option<PathBuf> {
    let mut dir = std::fs::canonicalize(node).ok()?;
    for _ in 0..6 {
        if dir.join("idVendor").is_file() {
            return Some(dir);
        }
        dir = dir.parent()?.to_owned();
    }
    None
}

fn attr(dir: &Path, name: &str) -> Option<String> {
    let value = std::fs::read_to_string(dir.join(name)).ok()?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn hex_attr(dir: &Path, name: &str) -> Option<u16> {
    u16::from_str_radix(&attr(dir, name)?, 16).ok()
}

impl std::fmt::Display for Candidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<16} transport = \"{}\"",
            self.device.display(),
            self.transport
        )?;
        if let Some((v, p)) = self.usb_id {
            write!(f, "  usb {v:04x}:{p:04x}")?;
        }
        let name = [self.manufacturer.as_deref(), self.product.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            write!(f, "  \"{name}\"")?;
        }
        if !self.profiles.is_empty() {
            write!(f, "  profile: {}", self.profiles.join(" or "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake sysfs: a POS-5890 on ttyUSB0 (through a USB interface directory, as the
    /// kernel lays it out) and an Epson TM-T20 on lp0.
    #[test]
    fn finds_ports_with_usb_ids_and_profiles() {
        let sys = tempfile::tempdir().unwrap();
        let root = sys.path();
        let dev = |path: &str, vendor: &str, product: &str, name: &str| {
            let d = root.join(path);
            std::fs::create_dir_all(d.join("1-1:1.0/port")).unwrap();
            std::fs::write(d.join("idVendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("idProduct"), format!("{product}\n")).unwrap();
            std::fs::write(d.join("product"), format!("{name}\n")).unwrap();
            d.join("1-1:1.0/port")
        };
        let serial = dev("devices/usb1/1-1", "0416", "5011", "POS58 Printer");
        let lp = dev("devices/usb1/1-2", "04b8", "0e03", "TM-T20");
        for (class, name, target) in [("tty", "ttyUSB0", &serial), ("usbmisc", "lp0", &lp)] {
            let c = root.join("class").join(class).join(name);
            std::fs::create_dir_all(&c).unwrap();
            std::os::unix::fs::symlink(target, c.join("device")).unwrap();
        }
        std::fs::create_dir_all(root.join("class/tty/ttyS0")).unwrap(); // not listed

        let found = scan(root);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().all(|c| c.device != Path::new("/dev/ttyS0")));
        assert_eq!(found[0].device, Path::new("/dev/ttyUSB0"));
        assert_eq!(found[0].transport, "serial");
        assert_eq!(found[0].usb_id, Some((0x0416, 0x5011)));
        assert_eq!(found[0].profiles, ["zjiang-58"]);
        assert_eq!(found[1].device, Path::new("/dev/usb/lp0"));
        assert_eq!(found[1].profiles, ["epson-tm-t20"]);
        let line = found[0].to_string();
        assert!(
            line.contains("usb 0416:5011") && line.contains("POS58 Printer"),
            "{line}"
        );
    }

    /// On-board ports are listed when sysfs shows a UART (a device and a known `type`),
    /// not the placeholders the kernel makes for absent ones.
    #[test]
    fn lists_on_board_serial_ports_that_have_a_uart() {
        let sys = tempfile::tempdir().unwrap();
        let root = sys.path();
        let platform = root.join("devices/pnp0/00:01");
        std::fs::create_dir_all(&platform).unwrap();
        for (name, uart_type, device) in [
            ("ttyS0", "4", true),  // a 16550A
            ("ttyS1", "0", true),  // PORT_UNKNOWN: no UART
            ("ttyS2", "4", false), // no device
        ] {
            let c = root.join("class/tty").join(name);
            std::fs::create_dir_all(&c).unwrap();
            std::fs::write(c.join("type"), format!("{uart_type}\n")).unwrap();
            if device {
                std::os::unix::fs::symlink(&platform, c.join("device")).unwrap();
            }
        }
        let found = scan(root);
        let devices: Vec<_> = found.iter().map(|c| c.device.clone()).collect();
        assert_eq!(devices, [PathBuf::from("/dev/ttyS0")], "{found:?}");
        assert_eq!(found[0].transport, "serial");
        assert_eq!(found[0].usb_id, None);
    }
}
