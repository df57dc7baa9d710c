//! An initramfs archive: the cpio "newc" format the Linux kernel unpacks (Linux's
//! Documentation/driver-api/early-userspace/buffer-format.rst), uncompressed, which QEMU's
//! `-initrd` and the kernel take as it is.

const MAGIC: &str = "070701";
const DIRECTORY: u32 = 0o040000;
const REGULAR: u32 = 0o100000;
const SYMLINK: u32 = 0o120000;

#[derive(Default)]
pub struct Archive {
    bytes: Vec<u8>,
    entries: u32,
}

impl Archive {
    pub fn directory(&mut self, path: &str) {
        self.entry(path, DIRECTORY | 0o755, b"");
    }

    pub fn file(&mut self, path: &str, contents: &[u8], permissions: u32) {
        self.entry(path, REGULAR | permissions, contents);
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        self.entry(path, SYMLINK | 0o777, target.as_bytes());
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, b"");
        self.bytes
    }

    fn entry(&mut self, path: &str, mode: u32, data: &[u8]) {
        self.entries += 1;
        let links = if mode & DIRECTORY == DIRECTORY { 2 } else { 1 };
        // inode, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor,
        // rdevminor, namesize (with its NUL), check.
        let fields = [self.entries, mode, 0, 0, links, 0, data.len() as u32, 0, 0, 0, 0, path.len() as u32 + 1, 0];
        self.bytes.extend(MAGIC.as_bytes());
        for field in fields {
            self.bytes.extend(format!("{field:08X}").as_bytes());
        }
        self.bytes.extend(path.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend(data);
        self.pad();
    }

    /// Header-plus-name and data each end on a multiple of four bytes.
    fn pad(&mut self) {
        while !self.bytes.len().is_multiple_of(4) {
            self.bytes.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_newc_headers_padded_to_four_bytes() {
        let mut archive = Archive::default();
        archive.file("init", b"#!/bin/sh\n", 0o755);
        archive.symlink("bin/sh", "busybox");
        let bytes = archive.finish();
        assert!(bytes.starts_with(b"07070100000001000081ED"), "inode 1, regular file 0755");
        let header = 6 + 13 * 8;
        assert_eq!(&bytes[header..header + 5], b"init\0");
        // 110 + 5 = 115, padded to 116; then 10 bytes of data padded to 12.
        assert_eq!(&bytes[116..126], b"#!/bin/sh\n");
        assert_eq!(&bytes[128..134], b"070701");
        assert_eq!(&bytes[128 + 14..128 + 22], b"0000A1FF", "a symlink, 0777");
        assert!(bytes.len() % 4 == 0);
        let trailer = bytes.windows(10).position(|w| w == b"TRAILER!!!").expect("a trailer");
        assert_eq!(&bytes[trailer - header..trailer - header + 6], b"070701");
    }
}
