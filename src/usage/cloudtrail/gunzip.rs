//! Whole-file gzip decompression with libdeflate, every member of a multi-member file included.
//!
//! Owns [`Gunzip`], one reusable libdeflate decompressor per scanning thread. CloudTrail files are
//! small and read whole, which is the case libdeflate is built for (it does not stream). The safe
//! `libdeflater` wrapper stops after the first gzip member without saying so; this module calls
//! `libdeflate_gzip_decompress_ex`, which reports how much input a member used, and loops until the
//! input is used up, as `flate2`'s `MultiGzDecoder` does.
//!
//! Output is capped (see [`limit_for`]): the scan reads a file's whole text at once, so without a
//! cap a gzip bomb (1 GiB of spaces is a 1 MB file) costs its whole size per scanning thread.
//! CloudTrail delivers a file per account and region about every five minutes; AWS documents no
//! largest size, and real files hold a few MB of JSON. A file over the cap is refused with an error
//! (the scan names it and marks the trail's usage incomplete), before its output is kept.

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};
use std::io;
use std::ptr::NonNull;

/// Most bytes one file may decompress to: the scan holds one such text per thread, and two of them
/// plus the S3 downloads in flight (64 MiB) stay within the scan's 256 MB budget.
pub(crate) const MAX_DECOMPRESSED: usize = 64 << 20;
/// A compression ratio no CloudTrail file reaches (gzip level 6 packs their JSON about 10:1, and
/// DEFLATE itself stops near 1032:1): beyond it a file is a bomb, refused early.
const MAX_RATIO: usize = 128;
/// Below this, no file is refused for its ratio (a tiny file of repeated records packs well).
const RATIO_FREE: usize = 16 << 20;

/// The most `compressed_len` bytes of gzip may decompress to.
pub(crate) fn limit_for(compressed_len: usize) -> usize {
    compressed_len
        .saturating_mul(MAX_RATIO)
        .clamp(RATIO_FREE, MAX_DECOMPRESSED)
}

/// The error of a file whose text would be over [`limit_for`] its size.
fn too_large(compressed_len: usize, limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "decompresses to more than {} MiB from {:.1} MiB, more than a CloudTrail log file holds (a gzip bomb?): skipped",
            limit >> 20,
            compressed_len as f64 / f64::from(1u32 << 20)
        ),
    )
}

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

    /// Decompresses every member of `gz` into `buf`, returning the decompressed length; an error
    /// when the text would be over [`limit_for`]`(gz.len())` bytes.
    ///
    /// `buf` is only grown, never shrunk or cleared, so its zero-filling is paid once per thread;
    /// the text is `buf[..n]`. Only `buf[..limit]` is ever used, so whether a file is refused does
    /// not depend on what the thread read before.
    pub fn decompress(&mut self, gz: &[u8], buf: &mut Vec<u8>) -> io::Result<usize> {
        let limit = limit_for(gz.len());
        // ISIZE, the last four bytes, is the (last member's) size modulo 2^32: a good first guess.
        // A valid member is at least that large, so a guess over the limit is refused at once.
        let guess = gz
            .len()
            .checked_sub(4)
            .and_then(|i| gz.get(i..))
            .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize);
        if guess > limit {
            return Err(too_large(gz.len(), limit));
        }
        if buf.len() < guess {
            buf.resize(guess, 0);
        }
        let (mut read, mut written) = (0usize, 0usize);
        while read < gz.len() {
            let room = buf.len().min(limit);
            let input = &gz[read..];
            let out = &mut buf[written.min(room)..room];
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
                    // The member is larger than the room left: grow (up to the limit) and
                    // decompress it again.
                    if room >= limit {
                        return Err(too_large(gz.len(), limit));
                    }
                    let grown = (room * 2)
                        .max(written + input.len() * 4)
                        .max(1 << 16)
                        .min(limit);
                    if buf.len() < grown {
                        buf.resize(grown, 0);
                    }
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

    /// `n` spaces as one gzip member, compressed in 1 MiB steps.
    fn gzip_spaces(n: usize) -> Vec<u8> {
        let chunk = vec![b' '; 1 << 20];
        let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
        let mut left = n;
        while left > 0 {
            let take = left.min(chunk.len());
            enc.write_all(&chunk[..take]).expect("gzip in memory");
            left -= take;
        }
        enc.finish().expect("gzip in memory")
    }

    #[test]
    fn a_gzip_bomb_is_refused_and_the_buffer_stays_within_the_limit() {
        // 1 GiB of JSON whitespace: one member of 64 MiB, repeated 16 times (a multi-member file
        // decompresses to the sum, and only one member is compressed here).
        let member = gzip_spaces(64 << 20);
        let bomb = [gzip(b"{\"Records\":["), member.repeat(16), gzip(b"]}")].concat();
        assert!(bomb.len() < 2 << 20, "{} bytes", bomb.len());
        let mut buf = Vec::new();
        let mut gunzip = Gunzip::new().expect("decompressor");
        let err = gunzip.decompress(&bomb, &mut buf).expect_err("a bomb");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("gzip bomb"), "{err}");
        assert!(buf.len() <= MAX_DECOMPRESSED, "{} bytes held", buf.len());
        // One member whose trailer tells its size is refused before any decompression.
        let single = gzip_spaces(MAX_DECOMPRESSED + 1);
        let mut fresh = Vec::new();
        assert!(gunzip.decompress(&single, &mut fresh).is_err());
        assert!(fresh.is_empty(), "refused on its trailer");
        // The same decompressor and buffer still read a real file afterwards.
        let good = gzip(b"{\"Records\":[]}");
        let n = gunzip.decompress(&good, &mut buf).expect("gunzip");
        assert_eq!(&buf[..n], b"{\"Records\":[]}");
    }

    #[test]
    fn the_limit_follows_the_compressed_size_between_16_and_64_mib() {
        assert_eq!(limit_for(0), 16 << 20);
        assert_eq!(limit_for(1 << 10), 16 << 20);
        assert_eq!(limit_for(256 << 10), 32 << 20);
        assert_eq!(limit_for(10 << 20), MAX_DECOMPRESSED);
        assert_eq!(limit_for(usize::MAX), MAX_DECOMPRESSED);
    }

    #[test]
    fn a_file_just_within_the_limit_is_read_whatever_the_buffer_held_before() {
        let text = vec![b' '; RATIO_FREE];
        let gz = gzip(&text);
        let mut gunzip = Gunzip::new().expect("decompressor");
        let n = gunzip
            .decompress(&gz, &mut Vec::new())
            .expect("at the limit");
        assert_eq!(n, RATIO_FREE);
        // One byte more is refused, also with a buffer left larger by an earlier file.
        let over = gzip(&vec![b' '; RATIO_FREE + 1]);
        let mut big = vec![0u8; MAX_DECOMPRESSED];
        assert!(gunzip.decompress(&over, &mut big).is_err());
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
