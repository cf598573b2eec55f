package smb2

import "time"

// refusalLogInterval is the shortest time between two log lines of one
// kind of refusal (refused connections, handshakes that timed out,
// unknown user names): a flood of refusals costs one line per interval,
// which says how many refusals it stands for (internal/logsafe.Limiter).
const refusalLogInterval = time.Minute
