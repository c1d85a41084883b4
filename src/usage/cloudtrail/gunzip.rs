//! Whole-file gzip decompression with libdeflate, every member of a multi-member file included.
//!
//! Owns [`Gunzip`], one reusable libdeflate decompressor per scanning thread. CloudTrail files are
//! small and read whole, which is the case libdeflate is built for (it does not stream). The safe
//! `libdeflater` wrapper stops after the first gzip member without saying so; this module calls
//! `libdeflate_gzip_decompress_ex`, which reports how much input a member used, and loops until the
//! input is used up, as `flate2`'s `MultiGzDecoder` does.

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};
use std::io;
use std::ptr::NonNull;

/// A libdeflate decompressor, reused for every file one thread reads.
#[derive(Debug)]
pub(crate) struct Gunzip {
    raw: NonNull<libdeflate_decompressor>,
}

// SAFETY: a libdeflate decompressor holds no thread-local state; it is used by one thread at a
// time (`&mut self`), only moved between threads.
unsafe impl Send for Gunzip {}

impl Gunzip {
    /// A new decompressor; `None` if libdeflate cannot allocate one.
    pub fn new() -> Option<Gunzip> {
        // SAFETY: no arguments; a null result is handled.
        NonNull::new(unsafe { libdeflate_alloc_decompressor() }).map(|raw| Gunzip { raw })
    }

    /// Decompresses every member of `gz` into `buf`, returning the decompressed length.
    ///
    /// `buf` is only grown, never shrunk or cleared, so its zero-filling is paid once per thread;
    /// the text is `buf[..n]`.
    pub fn decompress(&mut self, gz: &[u8], buf: &mut Vec<u8>) -> io::Result<usize> {
        // ISIZE, the last four bytes, is the (last member's) size modulo 2^32: a good first guess.
        let guess = gz
            .len()
            .checked_sub(4)
            .and_then(|i| gz.get(i..))
            .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize);
        if buf.len() < guess {
            buf.resize(guess.min(1 << 30), 0);
        }
        let (mut read, mut written) = (0usize, 0usize);
        while read < gz.len() {
            let input = &gz[read..];
            let out = &mut buf[written..];
            let (mut used_in, mut used_out) = (0usize, 0usize);
            // SAFETY: `self.raw` is a live decompressor used by this thread only; the input and
            // output pointers and lengths come from slices that outlive the call; libdeflate
            // writes at most `out.len()` bytes and the two counts.
            let result = unsafe {
                libdeflate_gzip_decompress_ex(
                    self.raw.as_ptr(),
                    input.as_ptr().cast(),
                    input.len(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    &mut used_in,
                    &mut used_out,
                )
            };
            match result {
                r if r == libdeflate_result_LIBDEFLATE_SUCCESS && used_in > 0 => {
                    read += used_in;
                    written += used_out;
                }
                r if r == libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => {
                    // The member is larger than the room left: grow and decompress it again.
                    let grown = (buf.len() * 2).max(written + input.len() * 4).max(1 << 16);
                    if grown > 1 << 32 {
                        return Err(io::Error::other("decompressed size over 4 GiB"));
                    }
                    buf.resize(grown, 0);
                }
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "corrupt gzip data",
                    ));
                }
            }
        }
        Ok(written)
    }
}

impl Drop for Gunzip {
    fn drop(&mut self) {
        // SAFETY: allocated by `libdeflate_alloc_decompressor` and freed only here.
        unsafe { libdeflate_free_decompressor(self.raw.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
        enc.write_all(data).expect("gzip in memory");
        enc.finish().expect("gzip in memory")
    }

    #[test]
    fn every_member_of_a_multi_member_file_is_read() {
        // Equal members, so the first alone would match the trailer's size and CRC.
        let member = b"{\"Records\":[]}".repeat(1000);
        let gz = [gzip(&member), gzip(&member), gzip(b"tail")].concat();
        let mut buf = Vec::new();
        let n = Gunzip::new()
            .expect("decompressor")
            .decompress(&gz, &mut buf)
            .expect("gunzip");
        assert_eq!(buf[..n], [&member[..], &member[..], b"tail"].concat());
    }

    #[test]
    fn a_wrong_trailer_or_a_truncated_file_is_an_error() {
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut gz = gzip(&data);
        // A lying ISIZE (too small) must not truncate the output.
        let at = gz.len() - 4;
        gz[at..].copy_from_slice(&10u32.to_le_bytes());
        let mut buf = Vec::new();
        let mut gunzip = Gunzip::new().expect("decompressor");
        assert!(
            gunzip.decompress(&gz, &mut buf).is_err(),
            "the trailer is checked"
        );
        let good = gzip(&data);
        let n = gunzip.decompress(&good, &mut buf).expect("gunzip");
        assert_eq!(buf[..n], data[..]);
        assert!(
            gunzip
                .decompress(&good[..good.len() - 9], &mut buf)
                .is_err()
        );
    }
}
