import AudienceReading

/// Merges the sorted runs of a spill file into one stream in ledger key order, combining the
/// changes that different runs hold for the same (segment, member) as one file's rows would be.
final class RunMerger {
    /// One run being read: a block of records in memory and where the next block starts.
    private struct Cursor {
        var run: SpillFile.Run
        var block: UnsafeMutableBufferPointer<MemberChange>
        var count = 0
        var position = 0
        var nextRecord = 0

        var head: MemberChange { block[position] }
    }

    private let spill: SpillFile
    // Unchecked: the merge touches these several times per record, and the dynamic exclusivity
    // checks of class properties were a sixth of `plan`'s time; only `merge` reaches them.
    @exclusivity(unchecked) private var cursors: [Cursor] = []
    /// Indices into `cursors`, a binary min-heap by each cursor's head.
    @exclusivity(unchecked) private var heap: [Int] = []
    static let outputRecords = 16_384

    /// `memoryRecords` is shared by the runs' read blocks, so memory stays the same however many
    /// runs a large file makes (more runs: smaller blocks, more reads).
    init(_ spill: SpillFile, memoryRecords: Int) throws {
        self.spill = spill
        let runs = spill.runs.filter { $0.count > 0 }
        let blockRecords = max(1, memoryRecords / max(1, runs.count))
        for run in runs {
            cursors.append(Cursor(run: run, block: .allocate(capacity: blockRecords)))
            let index = cursors.count - 1
            cursors[index].count = try spill.read(run: run, from: 0, into: cursors[index].block)
            cursors[index].nextRecord = cursors[index].count
            heap.append(index)
            siftUp(heap.count - 1)
        }
    }

    deinit { for cursor in cursors { cursor.block.deallocate() } }

    /// Calls `emit` with blocks of combined changes in order; every key appears once.
    func merge(_ emit: (UnsafeBufferPointer<MemberChange>) throws -> Void) throws {
        var output: [MemberChange] = []
        output.reserveCapacity(Self.outputRecords)
        var group: [MemberChange] = []
        func flushGroup() {
            guard let last = group.last else { return }
            output.append(Planner.combined(last, earlier: group.dropLast()))
            group.removeAll(keepingCapacity: true)
        }
        while let change = try next() {
            if let first = group.first, !Planner.sameKey(first, change) {
                flushGroup()
                if output.count >= Self.outputRecords {
                    try output.withUnsafeBufferPointer(emit)
                    output.removeAll(keepingCapacity: true)
                }
            }
            group.append(change)
        }
        flushGroup()
        if !output.isEmpty { try output.withUnsafeBufferPointer(emit) }
    }

    /// The smallest head of all runs, advancing its run.
    private func next() throws -> MemberChange? {
        guard let top = heap.first else { return nil }
        let change = cursors[top].head
        cursors[top].position += 1
        if cursors[top].position == cursors[top].count {
            let cursor = cursors[top]
            let read = try spill.read(run: cursor.run, from: cursor.nextRecord, into: cursor.block)
            cursors[top].count = read
            cursors[top].position = 0
            cursors[top].nextRecord += read
            if read == 0 {
                heap[0] = heap[heap.count - 1]
                heap.removeLast()
            }
        }
        if !heap.isEmpty { siftDown(0) }
        return change
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        Planner.precedes(cursors[heap[a]].head, cursors[heap[b]].head)
    }

    private func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count && less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
