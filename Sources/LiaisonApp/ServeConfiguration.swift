internal import Configuration
public import Foundation
internal import LiaisonModel
internal import LiaisonFederation
internal import LiaisonSealing

/// `liaison serve`'s settings, from (highest first) the command's flags,
/// `LIAISON_*` environment variables and the node's configuration file
/// (YAML, by default `DIR/liaison.yaml`). Keys:
///
/// | key | environment | meaning |
/// |---|---|---|
/// | `agreements` | `LIAISON_AGREEMENTS` | directory of agreements (`agreements/`, `statements/`, `schemes/`) |
/// | `listen.host`, `listen.port` | `LIAISON_LISTEN_HOST`, `…_PORT` | the peer API's address (default 127.0.0.1:8443) |
/// | `console.host`, `console.port` | `LIAISON_CONSOLE_HOST`, `…_PORT` | the operator API's HTTPS address (default 127.0.0.1:8444; port `off`: none) |
/// | `postgres.url` | `LIAISON_POSTGRES_URL` | PostgreSQL instead of the embedded SQLite store |
/// | `peers.<PARTY>.endpoint` | `LIAISON_PEERS_<PARTY>_ENDPOINT` | a peer's `https://host:port` |
/// | `peers.<PARTY>.identity` | `LIAISON_PEERS_<PARTY>_IDENTITY` | the peer's published `identity.der` |
/// | `gossip.interval` | `LIAISON_GOSSIP_INTERVAL` | seconds between tree-head checks (default 10) |
/// | `tls.handshake-deadline` | `LIAISON_TLS_HANDSHAKE_DEADLINE` | seconds a connection to either API has to finish its TLS handshake (default 10) |
/// | `federation.batch-size`, `federation.pipeline` | … | envelopes per batch (1000), batches in flight per peer (2) |
/// | `federation.replay-window` | … | seconds a batch's sealing instant may differ from this clock (300) |
/// | `federation.lease` | … | seconds a sender holds the tasks it claimed before another may take them (60) |
public enum ServeConfiguration {
    public static func load(directory: String, file: String?, flags: [String: String], environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws(AppError) -> NodeSettings
    {
        let path = file ?? directory + "/liaison.yaml"
        var providers: [any ConfigProvider] = [
            InMemoryProvider(
                name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey($0.key.split(separator: ".").map(String.init)), ConfigValue(.string($0.value), isSecret: false)) })),
            EnvironmentVariablesProvider(
                environmentVariables: Dictionary(
                    uniqueKeysWithValues: environment.filter { $0.key.hasPrefix("LIAISON_") }.map { (String($0.key.dropFirst("LIAISON_".count)), $0.value) }),
                secretsSpecifier: .specific(["POSTGRES_URL"])),
        ]
        if FileManager.default.fileExists(atPath: path) {
            do {
                let location = ConfigReader(provider: InMemoryProvider(values: ["filePath": ConfigValue(.string(path), isSecret: false)]))
                providers.append(try await FileProvider<YAMLSnapshot>(config: location))
            } catch {
                throw AppError(.invalidDocument, "\(path): \(error)")
            }
        } else if file != nil {
            throw AppError(.unreadableFile, "\(path): no such file")
        }
        let config = ConfigReader(providers: providers)
        guard let agreements = config.string(forKey: "agreements") else {
            throw AppError(.invalidArgument, "no agreements directory: set `agreements` in \(path), LIAISON_AGREEMENTS or --agreements")
        }
        var settings = NodeSettings(directory: directory, agreements: resolve(agreements, relativeTo: path))
        settings.host = config.string(forKey: "listen.host", default: "127.0.0.1")
        guard let port = Int(config.string(forKey: "listen.port", default: "8443")), (0...65_535).contains(port) else {
            throw AppError(.invalidArgument, "listen.port must be a port number (0–65535)")
        }
        settings.port = port
        settings.consoleHost = config.string(forKey: "console.host", default: "127.0.0.1")
        let consolePort = config.string(forKey: "console.port", default: "8444")
        if consolePort == "off" {
            settings.consolePort = nil
        } else {
            guard let p = Int(consolePort), (0...65_535).contains(p) else {
                throw AppError(.invalidArgument, "console.port must be a port number (0–65535) or off, not \(consolePort)")
            }
            settings.consolePort = p
        }
        settings.postgresURL = config.string(forKey: "postgres.url", isSecret: true)
        func number(_ key: String, _ range: ClosedRange<Double>) throws(AppError) -> Double? {
            guard let text = config.string(forKey: ConfigKey(key.split(separator: ".").map(String.init))) else { return nil }
            guard let v = Double(text), range.contains(v) else { throw AppError(.invalidArgument, "\(key) must be a number in \(range), not \(text)") }
            return v
        }
        if let v = try number("gossip.interval", 0.1...86_400) { settings.gossipInterval = v }
        if let v = try number("tls.handshake-deadline", 0.1...600) { settings.handshakeDeadline = v }
        if let v = try number("federation.batch-size", 1...4096) { settings.federation.batchSize = Int(v) }
        if let v = try number("federation.pipeline", 1...16) { settings.federation.pipeline = Int(v) }
        if let v = try number("federation.replay-window", 1...86_400) { settings.federation.replayWindow = v }
        if let v = try number("federation.lease", 1...3600) { settings.federation.lease = v }
        // Peers: every other party of the agreements that has an identity configured.
        let set = try ExampleSet(directory: settings.agreements)
        let me = try NodeDirectory(path: directory).load().party
        let parties = Set(set.agreements.values.flatMap(\.partyCodes)).subtracting([me]).sorted { $0.code < $1.code }
        for p in parties {
            guard let identityPath = config.string(forKey: ["peers", p.code, "identity"]) else { continue }
            let file = resolve(identityPath, relativeTo: path)
            guard let data = FileManager.default.contents(atPath: file) else { throw AppError(.unreadableFile, "\(file): the identity of \(p) cannot be read") }
            let identity: NodeIdentity
            do { identity = try NodeIdentity(canonical: Array(data)) } catch { throw AppError(.invalidDocument, "\(file): \(error.reason)") }
            guard identity.party == p else { throw AppError(.invalidDocument, "\(file) is \(identity.party)'s identity, not \(p)'s") }
            let endpoint = config.string(forKey: ["peers", p.code, "endpoint"])
            if let endpoint, URL(string: endpoint)?.scheme != "https" {
                throw AppError(.invalidArgument, "peers.\(p.code).endpoint must be an https:// address, not \(endpoint)")
            }
            settings.peers[p] = NodeSettings.Peer(identity: identity, endpoint: endpoint)
        }
        return settings
    }

    static func resolve(_ path: String, relativeTo file: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL.path
    }
}
