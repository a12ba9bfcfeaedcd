internal import Foundation
public import PostgresNIO
public import LiaisonStore

/// Where a PostgreSQL database is: parsed from a `postgres://` URL
/// (`postgres://user[:password]@host[:port]/database`).
public struct PostgresLocation: Hashable, Sendable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    public init(host: String, port: Int, user: String, password: String?, database: String) {
        (self.host, self.port, self.user, self.password, self.database) = (host, port, user, password, database)
    }

    /// Parses a URL, or says what is wrong with it.
    public init(url: String) throws(StoreError) {
        guard let c = URLComponents(string: url), c.scheme == "postgres" || c.scheme == "postgresql" else {
            throw StoreError(.invalidInput, "\(url) is not a postgres:// URL")
        }
        guard let host = c.host, !host.isEmpty else { throw StoreError(.invalidInput, "\(url) names no host") }
        guard let user = c.user, !user.isEmpty else { throw StoreError(.invalidInput, "\(url) names no user") }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw StoreError(.invalidInput, "\(url) names no database") }
        self.init(host: host, port: c.port ?? 5432, user: user, password: c.password, database: database)
    }

    public func with(database: String) -> PostgresLocation {
        var copy = self
        copy.database = database
        return copy
    }

    public func configuration(maximumConnections: Int = 8) -> PostgresClient.Configuration {
        var config = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: .disable)
        config.options.maximumConnections = maximumConnections
        return config
    }
}

extension PostgresStore {
    /// Creates an empty database `name` on the server of `location`.
    public static func createDatabase(_ name: String, at location: PostgresLocation) async throws(StoreError) {
        guard name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }), !name.isEmpty else {
            throw StoreError(.invalidInput, "database name \(name) must be a–z, 0–9 and _")
        }
        let client = PostgresClient(configuration: location.configuration(maximumConnections: 1))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        do {
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")).collect()
        } catch {
            throw StoreError(.unavailable, "cannot create database \(name): \(String(reflecting: error))")
        }
    }
}
