internal import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster: `initdb` and `pg_ctl` on a free
/// loopback port, data in a temporary directory, stopped and removed when
/// the process exits. The tests and `liaison bench store` run on one when no
/// server is given. As root (CI), the server runs as the `postgres` user,
/// since PostgreSQL refuses to run as root.
public final class LocalPostgresCluster: Sendable {
    public let port: Int
    public let user = "liaison"
    let directory: String
    let bin: String
    let asPostgres: Bool

    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// The cluster of this process, started on first use.
    public static let shared: Result<LocalPostgresCluster, Unavailable> = Result { try LocalPostgresCluster() }.mapError {
        ($0 as? Unavailable) ?? Unavailable(description: "\($0)")
    }

    init() throws {
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        guard let version = versions.compactMap({ Int($0) }).max() else {
            throw Unavailable(description: "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)")
        }
        bin = "/usr/lib/postgresql/\(version)/bin"
        asPostgres = geteuid() == 0
        directory = "/tmp/liaison-pg-\(UUID().uuidString.prefix(8))"
        port = try Self.freePort()
        try FileManager.default.createDirectory(atPath: directory + "/sock", withIntermediateDirectories: true)
        if asPostgres { try Self.run("/bin/chown", ["-R", "postgres:postgres", directory]) }
        try command("initdb", ["-D", directory + "/data", "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"])
        try command(
            "pg_ctl",
            [
                "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o",
                "-p \(port) -c listen_addresses=127.0.0.1 -k \(directory)/sock -c max_connections=200", "start",
            ])
        let stop = "\(asPostgres ? "/usr/sbin/runuser -u postgres -- " : "")\(bin)/pg_ctl -D \(directory)/data -m immediate stop >/dev/null 2>&1; rm -rf \(directory)"
        LocalPostgresCluster.stopCommand.withLock { $0 = stop }
        atexit { LocalPostgresCluster.stopCommand.withLock { cmd in if let cmd { _ = system(cmd) } } }
    }

    static let stopCommand = LockedValue<String?>(nil)

    /// The cluster's administrative database.
    public var location: PostgresLocation { PostgresLocation(host: "127.0.0.1", port: port, user: user, password: nil, database: "postgres") }

    /// A new, empty database; its name.
    public func createDatabase() throws -> String {
        let name = "t\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
        try Self.run(
            "/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", "CREATE DATABASE \(name)"])
        return name
    }

    func command(_ tool: String, _ arguments: [String]) throws {
        if asPostgres {
            try Self.run("/usr/sbin/runuser", ["-u", "postgres", "--", bin + "/" + tool] + arguments)
        } else {
            try Self.run(bin + "/" + tool, arguments)
        }
    }

    /// Runs a tool and waits for it with posix_spawn and waitpid: no pipe
    /// (the server pg_ctl starts would inherit it and hold it open) and no
    /// run loop (Foundation's Process can wait forever when the test's
    /// threads are all busy).
    static func run(_ executable: String, _ arguments: [String]) throws {
        let errPath = "/tmp/liaison-pg-\(UUID().uuidString).err"
        defer { unlink(errPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Unavailable(description: "cannot run \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7F == 0
        let code = (status >> 8) & 0xFF
        guard exited, code == 0 else {
            let message = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw Unavailable(description: "\(executable) \(arguments.joined(separator: " ")): exit \(code): \(message)")
        }
    }

    /// A loopback port nobody listens on now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw Unavailable(description: "cannot bind a loopback port") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// A value behind a lock (for the exit handler's command).
final class LockedValue<T: Sendable>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
