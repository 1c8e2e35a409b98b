import Dispatch
import Glibc
import Synchronization

/// An inotify instance whose events are read on a private dispatch queue and handed, a read's
/// worth at a time, to a handler. Events are hints: whoever gets them looks at the disk again.
public final class Inotify: Sendable {
    public struct Event: Sendable {
        /// The watch the event came from (see ``add(_:mask:)``).
        public let watch: Int32
        public let mask: UInt32
        /// The entry's name inside the watched folder; empty for the folder itself.
        public let name: String

        public func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }
    }

    private let descriptor: Int32
    /// Dispatch sources are thread-safe; Swift does not know it.
    private nonisolated(unsafe) let source: DispatchSourceRead
    private let started = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    /// Throws the `errno` text when the kernel gives no instance (fs.inotify.max_user_instances).
    public init(label: String) throws(InotifyUnavailable) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw InotifyUnavailable(reason: String(cString: strerror(errno))) }
        descriptor = fd
        source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: label))
        // Closed once the source lets go of it, never under a read in progress.
        source.setCancelHandler { close(fd) }
    }

    deinit {
        // A source never resumed must be resumed before it is released.
        if !started.exchange(true, ordering: .acquiringAndReleasing) { source.resume() }
        source.cancel()
    }

    /// Watches `path`; the watch's number, or the `errno` text.
    public func add(_ path: String, mask: UInt32) -> Result<Int32, InotifyUnavailable> {
        // Once stopped, the descriptor is closed (or about to be), and its number may be reused.
        guard !stopped.load(ordering: .acquiring) else { return .failure(InotifyUnavailable(reason: "stopped")) }
        let watch = inotify_add_watch(descriptor, path, mask)
        return watch >= 0 ? .success(watch) : .failure(InotifyUnavailable(reason: String(cString: strerror(errno))))
    }

    /// Starts reading: `handler` gets the events of each read, on the private queue. Events
    /// that came before the start were kept by the kernel and come first.
    public func start(_ handler: @escaping @Sendable ([Event]) -> Void) {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        source.setEventHandler { [descriptor] in handler(Self.drain(descriptor)) }
        source.resume()
    }

    /// Stops reading: a handler already running finishes, and none runs after it.
    public func stop() {
        stopped.store(true, ordering: .releasing)
        source.cancel()
    }

    private static func drain(_ descriptor: Int32) -> [Event] {
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var events: [Event] = []
        while true {
            let count = read(descriptor, buffer, size)
            if count <= 0 { break }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = buffer + offset + MemoryLayout<inotify_event>.size
                let name = event.len > 0 ? String(cString: nameStart.assumingMemoryBound(to: CChar.self)) : ""
                events.append(Event(watch: event.wd, mask: event.mask, name: name))
                offset += MemoryLayout<inotify_event>.size + Int(event.len)
            }
        }
        return events
    }
}

public struct InotifyUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// Rings ``changes`` when one file is written, replaced (renamed over, as `auth` saves a token),
/// created or has its permissions changed: a way to wait for a file to change without reading it
/// again and again. The file's folder is what is watched, so a file replaced by a rename is seen.
public final class FileChangeWatch: Sendable {
    public let changes = Doorbell()
    private let inotify: Inotify

    /// Nil when the folder cannot be watched: the caller then finds the change on its next look.
    public init?(path: String) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let inotify = try? Inotify(label: "tiktok-audience-sync.file-watch"),
            case .success = inotify.add(folder, mask: UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ATTRIB))
        else { return nil }
        self.inotify = inotify
        inotify.start { [changes] events in
            if events.contains(where: { $0.name == name }) { changes.ring() }
        }
    }

    deinit { inotify.stop() }
}
