import Foundation
import Glibc

/// Receives TikTok's OAuth redirect on 127.0.0.1 for `auth --listen`: one request, one answer.
enum LoopbackRedirect {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func receiveCode(port: Int, expectedState: String, timeout: Duration = .seconds(600)) async throws -> String {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw Failure(description: "cannot open a socket") }
        defer { close(listener) }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(listener, 4) == 0 else {
            throw Failure(description: "cannot listen on 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 200) <= 0 {
                try await Task.sleep(for: .milliseconds(10))
                continue
            }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 8192)
            let count = read(connection, &buffer, buffer.count)
            let request = String(decoding: buffer[..<max(0, count)], as: UTF8.self)
            let target = request.split(separator: " ").dropFirst().first.map(String.init) ?? "/"
            let items = URLComponents(string: "http://127.0.0.1" + target)?.queryItems ?? []
            let code = items.first { $0.name == "auth_code" || $0.name == "code" }?.value
            let state = items.first { $0.name == "state" }?.value
            let ok = code != nil && state == expectedState
            let body = ok
                ? "tiktok-audience-sync received the authorization. You can close this window."
                : "This is not the expected TikTok redirect (missing auth_code or wrong state)."
            let response = "HTTP/1.1 \(ok ? "200 OK" : "400 Bad Request")\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            _ = response.withCString { write(connection, $0, strlen($0)) }
            if ok, let code { return code }
        }
        throw Failure(description: "no redirect arrived on 127.0.0.1:\(port) in time; run auth again")
    }
}
