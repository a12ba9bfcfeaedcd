public import Foundation

#if canImport(Darwin)
    internal import Darwin
#elseif canImport(Glibc)
    internal import Glibc
#elseif canImport(Musl)
    internal import Musl
#endif

/// Bytes from the operating system's CSPRNG, many at once.
///
/// Why not `SymmetricKey(size:)` or `SystemRandomNumberGenerator`: both draw
/// eight bytes per system call, so the nonces of a 1000-item batch cost 1500
/// calls (about half a millisecond). Here the whole buffer is filled at
/// once: `arc4random_buf` on Darwin; on Linux a read of `/dev/urandom` (the
/// kernel's generator, as `getrandom` is, which Swift cannot call directly;
/// glibc's `arc4random_buf` only exists from 2.36).
enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            #if canImport(Darwin)
                arc4random_buf(base, buffer.count)
            #else
                fill(base, buffer.count)
            #endif
        }
        return out
    }

    #if !canImport(Darwin)
        /// Opened once; reads are atomic per call and the descriptor is only read.
        static let urandom: Int32 = open("/dev/urandom", O_RDONLY | O_CLOEXEC)

        static func fill(_ base: UnsafeMutableRawPointer, _ count: Int) {
            // Without the kernel's generator nothing may be sealed: a nonce
            // or an item id from anything weaker is worse than stopping.
            precondition(urandom >= 0, "cannot open /dev/urandom")
            var done = 0
            while done < count {
                let n = read(urandom, base + done, count - done)
                if n < 0, errno == EINTR { continue }
                precondition(n > 0, "cannot read /dev/urandom")
                done += n
            }
        }
    #endif
}

extension UUID {
    /// A random (version 4, RFC 9562 §5.4) UUID from ``SecureRandom``.
    /// Foundation's `UUID()` on Linux opens, reads and closes
    /// `/dev/urandom` for every one: three system calls per TAXII status.
    public static func random() -> UUID {
        var b = SecureRandom.bytes(16)
        b[6] = (b[6] & 0x0F) | 0x40
        b[8] = (b[8] & 0x3F) | 0x80
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }
}
