#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Bytes from the operating system's CSPRNG, many at once.
///
/// Why not `SymmetricKey(size:)` or `SystemRandomNumberGenerator`: both draw
/// eight bytes per system call, so the nonces of a 1000-item batch cost 1500
/// calls (about half a millisecond); `arc4random_buf` (glibc 2.36+, every
/// Darwin) fills the whole buffer from the kernel's generator in one.
enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { arc4random_buf(base, buffer.count) }
        }
        return out
    }
}
