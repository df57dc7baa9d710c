//! What the fuzz targets share: [`Bytes`], the fuzzer's input read as a stream of decisions.
//!
//! Every target decodes its input with it: a scenario (a memory image, a configuration space, a
//! device's answers) built from the bytes, and once they run out, zeros, so every input is a
//! complete scenario and the fuzzer's mutations stay meaningful.

pub mod acpi;
pub mod pci;
pub mod virtio;

/// The fuzzer's bytes, consumed from the front.
#[derive(Clone, Debug, Default)]
pub struct Bytes<'a> {
    rest: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Up to `n` bytes (fewer at the end).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        taken
    }

    /// `N` bytes, zero-filled past the end.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0; N];
        let taken = self.take(N);
        out[..taken.len()].copy_from_slice(taken);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// A value below `bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: usize) -> usize {
        match bound {
            0 => 0,
            _ => self.u16() as usize % bound,
        }
    }

    /// A length-prefixed chunk: a u16 length, then that many bytes (fewer at the end).
    pub fn chunk(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16());
        self.take(len)
    }

    /// How many bytes are left.
    pub fn rest_len(&self) -> usize {
        self.rest.len()
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.rest.len())
    }
}

#[cfg(test)]
mod tests {
    /// Every input kept in regressions/ (crashes found and fixed) runs clean through its
    /// target's harness, outside libFuzzer: `cargo test` in fuzz/.
    #[test]
    fn the_kept_crashes_run_clean() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
        let mut count = 0;
        for target in std::fs::read_dir(&dir).unwrap() {
            let target = target.unwrap();
            let name = target.file_name().into_string().unwrap();
            let run: fn(&[u8]) = match name.as_str() {
                "acpi" => crate::acpi::run,
                "pci" => crate::pci::run,
                other => panic!("regressions/{other}: no harness for it in this test"),
            };
            for input in std::fs::read_dir(target.path()).unwrap() {
                run(&std::fs::read(input.unwrap().path()).unwrap());
                count += 1;
            }
        }
        assert!(count > 0, "no inputs in {}", dir.display());
    }
}
