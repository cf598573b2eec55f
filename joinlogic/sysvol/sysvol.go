package sysvol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/oiweiwei/go-msrpc/smb2"
	"github.com/oiweiwei/go-msrpc/ssp"
	"github.com/oiweiwei/go-msrpc/ssp/credential"
	"github.com/oiweiwei/go-msrpc/ssp/gssapi"

	"github.com/wkssvcd/wkssvcd/joinlogic"
)

// MaxFileSize bounds what ReadFile reads: a registry policy file holds at
// most a few thousand settings.
const MaxFileSize = 16 << 20

// Reader implements joinlogic.SysvolReader.
type Reader struct {
	// Port is the SMB port of the controllers. Default 445.
	Port int
	// Timeout bounds one ReadFile (connect, session, read). Default 30 s;
	// the caller's context deadline also applies.
	Timeout time.Duration
	// Logger receives debug records. Default slog.Default().
	Logger *slog.Logger
}

var _ joinlogic.SysvolReader = (*Reader)(nil)

// splitUNC splits \\host\share\rest into its parts.
func splitUNC(p string) (host, share, rest string, err error) {
	p = strings.ReplaceAll(p, "/", `\`)
	if !strings.HasPrefix(p, `\\`) {
		return "", "", "", fmt.Errorf("sysvol: %q is not a UNC path", p)
	}
	parts := strings.SplitN(p[2:], `\`, 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("sysvol: %q is not a UNC path of a file", p)
	}
	for _, seg := range strings.Split(parts[2], `\`) {
		if seg == "" || seg == "." || seg == ".." {
			return "", "", "", fmt.Errorf("sysvol: %q has an empty, '.' or '..' component", p)
		}
	}
	return parts[0], parts[1], parts[2], nil
}

// ReadFile implements joinlogic.SysvolReader: it connects to dc (its
// address, else its name), authenticates as cred and reads path's file
// from path's share on that controller. The host named in path (usually
// the domain's DNS name, a DFS root) is not contacted: every controller
// holds the whole SYSVOL.
func (r *Reader) ReadFile(ctx context.Context, dc joinlogic.DCInfo, cred joinlogic.Credentials, path string) ([]byte, error) {
	_, share, name, err := splitUNC(path)
	if err != nil {
		return nil, err
	}
	if cred.Anonymous {
		return nil, errors.New("sysvol: an anonymous session cannot read SYSVOL")
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	port := r.Port
	if port == 0 {
		port = 445
	}
	host := dc.DCAddress
	if host == "" {
		host = dc.DCName
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sysvol: connecting to %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	domain := cred.Account.Domain
	if domain == "" {
		domain = dc.DomainFlat
	}
	c := credential.NewFromPassword(cred.Account.User, cred.Password, credential.Domain(domain))
	d := smb2.NewDialer(smb2.WithSecurity(
		gssapi.WithCredential(c),
		gssapi.WithMechanismFactory(ssp.SPNEGO),
		gssapi.WithMechanismFactory(ssp.NTLM),
	), smb2.WithSign())
	sess, err := d.DialContext(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("sysvol: SMB session with %s as %s\\%s: %w", addr, domain, cred.Account.User, err)
	}
	sess = sess.WithContext(ctx)
	defer sess.Logoff()
	server := dc.DCName
	if server == "" {
		server = host
	}
	fsh, err := sess.Mount(`\\` + server + `\` + share)
	if err != nil {
		return nil, fmt.Errorf("sysvol: connecting to \\\\%s\\%s: %w", server, share, err)
	}
	fsh = fsh.WithContext(ctx)
	defer fsh.Umount()
	f, err := fsh.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sysvol: %s: %w", path, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("sysvol: opening %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("sysvol: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("sysvol: %s is larger than %d bytes", path, MaxFileSize)
	}
	log.DebugContext(ctx, "sysvol: read", "path", path, "dc", server, "bytes", len(data))
	return data, nil
}
