package happner

// WorkerTasks returns how many calls of m went to a worker goroutine (for
// the tests of inline execution).
func WorkerTasks(m *Mesh) int64 { return m.workers.started.Load() }
