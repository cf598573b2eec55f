package wkssvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	wkst "github.com/oiweiwei/go-msrpc/msrpc/wkst/wkssvc/v1"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// Settings are the workstation ADM elements NetrWkstaSetInfo changes and
// NetrWkstaGetInfo level 502 reports (MS-WKST 3.2.1, 3.2.4.2).
type Settings struct {
	KeepConnection   uint32 `json:"keep_connection"`    // Keep_Connection, seconds
	MaxCommands      uint32 `json:"max_commands"`       // Max_Commands
	SessionTimeout   uint32 `json:"session_timeout"`    // Session_TimeOut, seconds
	DormantFileLimit uint32 `json:"dormant_file_limit"` // DormantFileLimit
}

// DefaultSettings are the values of MS-WKST 3.2.3 as Windows servers
// initialize them (<16>, <17>, <19>). DormantFileLimit starts at 0, which
// is what Windows reports at level 502 until it is set (<30>).
func DefaultSettings() Settings {
	return Settings{KeepConnection: defaultKeepConnection, MaxCommands: defaultMaxCommands, SessionTimeout: defaultSessionTimeout}
}

// SettingsStore keeps the Settings.
type SettingsStore interface {
	Settings() Settings
	SaveSettings(ctx context.Context, s Settings) error
}

// SettingsFormatVersion is the version of the settings file written here
// and the only one read.
const SettingsFormatVersion = 1

// FileSettings keeps the Settings in a file (versioned JSON, written
// atomically, mode 0600), or in memory when it has no path. It is safe
// for concurrent use.
type FileSettings struct {
	path string
	mu   sync.Mutex
	cur  Settings
}

var _ SettingsStore = (*FileSettings)(nil)

type settingsFile struct {
	Version  int       `json:"version"`
	Settings *Settings `json:"settings"`
}

// MemorySettings returns a SettingsStore that keeps s in memory only.
func MemorySettings(s Settings) *FileSettings { return &FileSettings{cur: s} }

// OpenSettings reads the settings file at path; a missing file yields
// DefaultSettings (written by the first save). A file that cannot be
// parsed is an error, never a silent reset.
func OpenSettings(path string) (*FileSettings, error) {
	if path == "" {
		return nil, errors.New("wkssvc: empty settings file path")
	}
	atomicfile.RemoveStale(path)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &FileSettings{path: path, cur: DefaultSettings()}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("wkssvc: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("wkssvc: reading %s: %w", path, err)
	}
	var sf settingsFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("wkssvc: %s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("wkssvc: %s: trailing data", path)
	}
	if sf.Version != SettingsFormatVersion || sf.Settings == nil {
		return nil, fmt.Errorf("wkssvc: %s: unsupported settings file (version %d)", path, sf.Version)
	}
	if _, bad := validSettings(*sf.Settings); bad {
		return nil, fmt.Errorf("wkssvc: %s: settings out of range: %+v", path, *sf.Settings)
	}
	return &FileSettings{path: path, cur: *sf.Settings}, nil
}

// Settings returns the current values.
func (f *FileSettings) Settings() Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur
}

// SaveSettings replaces the values; on error the old ones stay.
func (f *FileSettings) SaveSettings(ctx context.Context, s Settings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.path != "" {
		data, err := json.MarshalIndent(settingsFile{Version: SettingsFormatVersion, Settings: &s}, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.Write(f.path, append(data, '\n'), 0o600); err != nil {
			return fmt.Errorf("wkssvc: saving settings: %w", err)
		}
	}
	f.cur = s
	return nil
}

// ParmErr values of NetrWkstaSetInfo (MS-WKST 3.2.4.2): the member that
// failed validation. The table prints 0 for wki502_max_cmds; the
// WKSTA_MAXCMDS_PARMNUM Windows' lmwksta.h defines, in the same series as
// the others (keep_conn 13, sess_timeout 18), is 15, which is used.
const (
	parmKeepConn         = 0x0D
	parmMaxCmds          = 0x0F
	parmSessTimeout      = 0x12
	parmDormantFileLimit = 0x2E
)

// validSettings checks the ranges of MS-WKST 3.2.4.2 and returns the
// ParmErr of the first member out of range.
func validSettings(s Settings) (parm uint32, bad bool) {
	switch {
	case s.KeepConnection < 1 || s.KeepConnection > 65535:
		return parmKeepConn, true
	case s.MaxCommands < 50 || s.MaxCommands > 65535:
		return parmMaxCmds, true
	case s.SessionTimeout < 60 || s.SessionTimeout > 65535:
		return parmSessTimeout, true
	}
	return 0, false
}

// Levels of NetrWkstaSetInfo (MS-WKST 3.2.4.2).
const (
	levelInfo1013 = 1013
	levelInfo1018 = 1018
	levelInfo1046 = 1046
)

// SetInfo is NetrWkstaSetInfo (MS-WKST 3.2.4.2), in the specification's
// order: the level (an invalid one is ERROR_INVALID_PARAMETER, as Windows
// answers, <31>), the access check (administrators, <33>), the ranges of
// the members the level sets (ERROR_INVALID_PARAMETER with ParmErr; the
// members the table marks unused are ignored), then the new values are
// kept in the state directory; level 502 of NetrWkstaGetInfo reads them
// back (<32>).
func (s *Server) SetInfo(ctx context.Context, req *wkst.SetInfoRequest) (*wkst.SetInfoResponse, error) {
	resp := &wkst.SetInfoResponse{ErrorParameter: req.ErrorParameter}
	switch req.Level {
	case levelInfo502, levelInfo1013, levelInfo1018, levelInfo1046:
	default:
		resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
		return resp, nil
	}
	if !canChange(caller(ctx)) {
		resp.Return = errAccessDenied
		return resp, nil
	}
	next := s.cfg.Settings.Settings()
	var info any
	if req.WorkstationInfo != nil {
		info = req.WorkstationInfo.GetValue()
	}
	switch v := info.(type) {
	case *wkst.WorkstationInfo502:
		if req.Level != levelInfo502 || v == nil {
			break
		}
		next.KeepConnection, next.MaxCommands, next.SessionTimeout = v.KeepConn, v.MaxCmds, v.SessTimeout
		next.DormantFileLimit, info = v.DormantFileLimit, nil
	case *wkst.WorkstationInfo1013:
		if req.Level != levelInfo1013 || v == nil {
			break
		}
		next.KeepConnection, info = v.KeepConn, nil
	case *wkst.WorkstationInfo1018:
		if req.Level != levelInfo1018 || v == nil {
			break
		}
		next.SessionTimeout, info = v.SessTimeout, nil
	case *wkst.WorkstationInfo1046:
		if req.Level != levelInfo1046 || v == nil {
			break
		}
		next.DormantFileLimit, info = v.DormantFileLimit, nil
	}
	if info != nil || req.WorkstationInfo == nil {
		// No structure, or one of another level than Level names.
		resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
		return resp, nil
	}
	// In the order of the table: keep_conn, max_cmds, sess_timeout, then
	// dormant_file_limit where the level sets it.
	if parm, bad := validSettings(next); bad {
		return s.badParameter(resp, parm), nil
	}
	if (req.Level == levelInfo502 || req.Level == levelInfo1046) && next.DormantFileLimit < 1 {
		return s.badParameter(resp, parmDormantFileLimit), nil
	}
	if err := s.cfg.Settings.SaveSettings(ctx, next); err != nil {
		s.log.Error("wkssvc: saving the workstation settings", "err", err)
		resp.Return = errInternalError
		return resp, nil
	}
	s.log.Info("wkssvc: workstation settings changed", "level", req.Level, "keep_connection", next.KeepConnection,
		"max_commands", next.MaxCommands, "session_timeout", next.SessionTimeout, "dormant_file_limit", next.DormantFileLimit)
	resp.Return = errSuccess
	return resp, nil
}

func (s *Server) badParameter(resp *wkst.SetInfoResponse, parm uint32) *wkst.SetInfoResponse {
	resp.ErrorParameter = parm
	resp.Return = uint32(joinlogic.ERROR_INVALID_PARAMETER)
	return resp
}
