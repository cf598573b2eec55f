package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wkssvcd/wkssvcd/internal/atomicfile"
	"github.com/wkssvcd/wkssvcd/joinlogic"
	"github.com/wkssvcd/wkssvcd/odj"
)

// Applying a provisioning file to this host, in the process that writes
// the state directory (the daemon, or requestodj when no daemon runs).
//
// Besides the membership and the keytab (joinlogic.ApplyOfflineJoin,
// crash-safe through its journal), the file's DirectAccess parts are kept
// in STATE-DIR/offline-join/: policy.json (the registry settings of the
// POLICY_PROVIDER part), root-cas.pem (the certificates of the
// CERT_PROVIDER part's LocalMachine\Root store), certs-LOCATION-STORE.pem
// for other stores and enrolled-N.pfx for enrolled certificates, all mode
// 0600, with the marker "applies" naming the file they are of. They are
// written first into offline-join.new/, which replaces offline-join/ only
// once the join is saved; a crash in between is settled at the next start
// (settleODJArtifacts): the directory stays when the membership names its
// file, and goes otherwise. They live as long as that membership: an
// unjoin, or a join that replaces it, removes them (followMembership), and
// a crash before that is settled at the next start as well.

const (
	odjDir     = "offline-join"
	odjNewDir  = odjDir + ".new"
	odjOldDir  = odjDir + ".old"
	odjMarker  = "applies" // in offline-join.new: the file id it belongs to
	policyFile = "policy.json"
	rootCAFile = "root-cas.pem"
)

// odjRequest is one file to apply.
type odjRequest struct {
	File    []byte `json:"file"`    // the provisioning file, any form odj.DecodeSavefile takes
	KVNO    uint32 `json:"kvno"`    // key version for the keytab; 0 for joinlogic's default
	Replace bool   `json:"replace"` // replace an existing membership
}

// odjResult is what applying it did.
type odjResult struct {
	Domain        string   `json:"domain"`
	DomainNetBIOS string   `json:"domain_netbios"`
	Account       string   `json:"account"`
	AccountSID    string   `json:"account_sid,omitempty"`
	FileID        string   `json:"file_id"`
	KVNO          uint32   `json:"kvno"`
	Keytab        string   `json:"keytab"`
	StateFiles    []string `json:"state_files,omitempty"`
	PolicyValues  int      `json:"policy_values"`
	RootCAs       int      `json:"root_cas"`
	AppliedBy     string   `json:"applied_by"`
}

// decodedFile is a provisioning file checked as a consumer must.
type decodedFile struct {
	join *odj.Join
	id   string // "sha256:" + hex of the binary form
}

// decodeProvisioningFile decodes and checks a provisioning file: a
// decoding failure, an unsupported version, an encrypted package, an
// unknown essential part or a file that contradicts itself is refused.
func decodeProvisioningFile(data []byte) (*decodedFile, error) {
	bin, err := odj.DecodeSavefile(data)
	if err != nil {
		return nil, err
	}
	p, err := odj.DecodeProvision(bin)
	if err != nil {
		return nil, err
	}
	j, err := p.Join()
	if err != nil {
		return nil, err
	}
	if _, err := j.Win7.MachinePassword.Text(); err != nil {
		return nil, err
	}
	if j.Win7.DomainInfo.DNSDomainName == "" && j.Win7.Domain == "" {
		return nil, errors.New("the file names no DNS domain")
	}
	sum := sha256.Sum256(bin)
	return &decodedFile{join: j, id: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// offlineJoin translates the file's join data for joinlogic.
func (f *decodedFile) offlineJoin(kvno uint32, replace bool) joinlogic.OfflineJoin {
	w := f.join.Win7
	pw, _ := w.MachinePassword.Text()
	d := w.DomainInfo
	o := joinlogic.OfflineJoin{
		DomainNetBIOS: d.Name,
		DomainDNS:     firstNonEmpty(d.DNSDomainName, w.Domain),
		ForestDNS:     d.DNSForestName,
		DomainGUID:    d.DomainGUID.String(),
		MachineName:   w.MachineName,
		Password:      joinlogic.Secret(pw),
		AccountRID:    f.join.RID,
		AccountSID:    f.join.AccountSID,
		DC: joinlogic.DCInfo{
			DCName:     strings.TrimPrefix(w.DCInfo.DCName, `\\`),
			DCAddress:  strings.TrimPrefix(w.DCInfo.DCAddress, `\\`),
			DomainDNS:  w.DCInfo.DomainName,
			DomainFlat: d.Name,
			ForestDNS:  w.DCInfo.DNSForestName,
			DCSiteName: w.DCInfo.DCSiteName,
			ClientSite: w.DCInfo.ClientSiteName,
			Flags:      w.DCInfo.Flags,
		},
		KVNO:    kvno,
		File:    f.id,
		Replace: replace,
	}
	if d.SID != nil {
		o.DomainSID = d.SID.String()
	}
	if d.DomainGUID.IsZero() {
		o.DomainGUID = ""
	}
	if f.join.AccountGUID != nil {
		o.AccountGUID = f.join.AccountGUID.String()
	}
	if p2 := f.join.Prov2; p2 != nil {
		o.NetBIOSName, o.SiteName, o.PrimaryDNSDomain = p2.NetbiosName, p2.SiteName, p2.PrimaryDNSDomain
		o.PersistentSite = p2.Flags&odj.OpJP2FlagPersistentSite != 0
	}
	return o
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// odjApplier applies provisioning files; it runs in the one process that
// writes the state directory.
type odjApplier struct {
	mu       sync.Mutex // one file at a time
	joiner   *joinlogic.Joiner
	store    *joinlogic.Store
	stateDir string
	keytab   string
	log      *slog.Logger
	by       string // who applies: "the running daemon" or "wkssvcd requestodj"
}

// apply checks req's file and applies it: artifacts staged, the join
// saved, the artifacts put in place.
func (a *odjApplier) apply(ctx context.Context, req odjRequest) (*odjResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := decodeProvisioningFile(req.File)
	if err != nil {
		return nil, err
	}
	staged, files, err := a.stage(f)
	if err != nil {
		return nil, fmt.Errorf("writing the offline join's files in %s: %w", a.stateDir, err)
	}
	o := f.offlineJoin(req.KVNO, req.Replace)
	if err := a.joiner.ApplyOfflineJoin(ctx, o); err != nil {
		os.RemoveAll(staged)
		return nil, err
	}
	if err := a.settle(); err != nil {
		// The join stands; the files are put in place at the next start.
		a.log.Error("offline join: putting its files in place", "dir", filepath.Join(a.stateDir, odjDir), "err", err)
	}
	m, _ := a.store.Load()
	kvno := req.KVNO
	if kvno == 0 {
		kvno = joinlogic.DefaultOfflineKVNO
	}
	res := &odjResult{Domain: m.DomainFQDN, DomainNetBIOS: m.DomainNetBIOS, Account: m.ClientName, AccountSID: m.AccountSID,
		FileID: f.id, KVNO: kvno, Keytab: a.keytab, AppliedBy: a.by}
	for _, p := range f.join.Policies {
		for _, l := range p.Lists {
			res.PolicyValues += len(l.Elements)
		}
	}
	for _, name := range files {
		res.StateFiles = append(res.StateFiles, filepath.Join(a.stateDir, odjDir, name))
	}
	res.RootCAs = len(rootCAs(f.join))
	return res, nil
}

// stage writes the artifacts of f into offline-join.new and returns it and
// the names of the files written.
func (a *odjApplier) stage(f *decodedFile) (string, []string, error) {
	dir := filepath.Join(a.stateDir, odjNewDir)
	if err := os.RemoveAll(dir); err != nil {
		return "", nil, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return "", nil, err
	}
	var names []string
	write := func(name string, data []byte) error {
		names = append(names, name)
		return atomicfile.Write(filepath.Join(dir, name), data, 0o600)
	}
	if len(f.join.Policies) > 0 {
		b, err := policyJSON(f)
		if err != nil {
			return dir, nil, err
		}
		if err := write(policyFile, b); err != nil {
			return dir, nil, err
		}
	}
	for _, st := range certStores(f.join) {
		if err := write(st.name, st.pem); err != nil {
			return dir, nil, err
		}
	}
	for i, cp := range f.join.Certs {
		for k, s := range cp.PFXStores {
			if err := write(fmt.Sprintf("enrolled-%d-%d.pfx", i, k), s.PFX); err != nil {
				return dir, nil, err
			}
		}
	}
	// Last: the marker says which file the directory belongs to.
	if err := atomicfile.Write(filepath.Join(dir, odjMarker), []byte(f.id+"\n"), 0o600); err != nil {
		return dir, nil, err
	}
	return dir, names, nil
}

// settle puts a staged artifact directory in place when the membership
// names its file, and removes it otherwise; leftovers of an interrupted
// swap go, and so does an artifact directory whose join is no longer the
// membership. It runs after every apply and when the state directory's
// writer starts.
func (a *odjApplier) settle() error { return settleODJArtifacts(a.stateDir, a.store) }

func settleODJArtifacts(stateDir string, store *joinlogic.Store) error {
	staged := filepath.Join(stateDir, odjNewDir)
	cur := filepath.Join(stateDir, odjDir)
	old := filepath.Join(stateDir, odjOldDir)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	m, err := store.Load()
	if err != nil {
		return err
	}
	marker, err := os.ReadFile(filepath.Join(staged, odjMarker))
	switch {
	case errors.Is(err, os.ErrNotExist):
		err = os.RemoveAll(staged) // nothing staged, or staging cut short
	case err != nil:
	case !m.Joined() || m.OfflineJoinFile != strings.TrimSpace(string(marker)):
		err = os.RemoveAll(staged) // its join never happened
	default:
		// The marker goes along: it says which join the directory is of.
		if err = os.Rename(cur, old); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err = os.Rename(staged, cur); err != nil {
			return err
		}
		if err = syncDir(stateDir); err != nil {
			return err
		}
		err = os.RemoveAll(old)
	}
	if err != nil {
		return err
	}
	_, err = dropODJArtifacts(stateDir, m)
	return err
}

// dropODJArtifacts removes STATE-DIR/offline-join when it is not of the
// membership m: m is not a domain membership (an unjoin), or another join
// (online, or of another file) replaced the offline join it came from.
// The directory is renamed away first, so it is there whole or not at all;
// a crash before the removal is finished at the next settle. It reports
// whether it removed the directory. Staged files are left to settle.
func dropODJArtifacts(stateDir string, m joinlogic.Membership) (bool, error) {
	cur := filepath.Join(stateDir, odjDir)
	if _, err := os.Lstat(cur); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	marker, err := os.ReadFile(filepath.Join(cur, odjMarker))
	var keep bool
	switch {
	case err == nil:
		keep = m.Joined() && m.OfflineJoinFile == strings.TrimSpace(string(marker))
	case errors.Is(err, os.ErrNotExist):
		// Written before the marker stayed in the directory: it is of the
		// offline join the membership names, if any.
		keep = m.Joined() && m.OfflineJoinFile != ""
	default:
		return false, err
	}
	if keep {
		return false, nil
	}
	old := filepath.Join(stateDir, odjOldDir)
	if err := os.RemoveAll(old); err != nil {
		return false, err
	}
	if err := os.Rename(cur, old); err != nil {
		return false, err
	}
	if err := syncDir(stateDir); err != nil {
		return true, err
	}
	return true, os.RemoveAll(old)
}

// followMembership makes the offline join files of stateDir follow every
// membership store saves: an unjoin, or a join that replaces the offline
// one, removes them. Root CA certificates that requestodj
// --install-root-cas put into the system trust store are not the state
// directory's: the log names them, to be removed by an administrator.
func followMembership(stateDir string, store *joinlogic.Store, log *slog.Logger) {
	store.OnSave(func(m joinlogic.Membership) {
		removed, err := dropODJArtifacts(stateDir, m)
		if err != nil {
			log.Error("offline join: removing the files of a join that ended", "dir", filepath.Join(stateDir, odjDir), "err", err)
			return
		}
		if !removed {
			return
		}
		log.Info("offline join: its files are removed: the membership they were of ended", "dir", filepath.Join(stateDir, odjDir))
		if installed := installedRootCAs(""); len(installed) > 0 {
			log.Warn("offline join: root CA certificates installed from offline join files stay in the system trust store; remove them and rebuild the store if they are no longer trusted",
				"files", installed, "rebuild", trustStoreTool())
		}
	})
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// policyJSON renders the POLICY_PROVIDER parts of f for people and tools.
func policyJSON(f *decodedFile) ([]byte, error) {
	type value struct {
		Key      string  `json:"key"`
		Name     string  `json:"name"`
		Type     uint32  `json:"type"`
		TypeName string  `json:"type_name"`
		Data     string  `json:"data_hex"`
		Text     string  `json:"text,omitempty"`
		Number   *uint64 `json:"number,omitempty"`
	}
	type list struct {
		Source  string  `json:"source"`
		RootKey string  `json:"root_key"`
		Values  []value `json:"values"`
	}
	doc := struct {
		File    string    `json:"file"`
		Domain  string    `json:"domain"`
		Machine string    `json:"machine"`
		Written time.Time `json:"written"`
		Lists   []list    `json:"policies"`
	}{File: f.id, Domain: f.join.Win7.Domain, Machine: f.join.Win7.MachineName, Written: time.Now().UTC()}
	for _, p := range f.join.Policies {
		for _, l := range p.Lists {
			out := list{Source: l.Source, RootKey: rootKeyName(l.RootKeyID), Values: []value{}}
			for _, e := range l.Elements {
				v := value{Key: e.KeyPath, Name: e.ValueName, Type: e.ValueType, TypeName: odj.RegTypeName(e.ValueType), Data: hex.EncodeToString(e.Data)}
				v.Text, v.Number = regText(e.ValueType, e.Data)
				out.Values = append(out.Values, v)
			}
			doc.Lists = append(doc.Lists, out)
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func rootKeyName(k uint32) string {
	switch k {
	case odj.HKeyLocalMachine:
		return "HKEY_LOCAL_MACHINE"
	case 0x80000001:
		return "HKEY_CURRENT_USER"
	}
	return fmt.Sprintf("0x%08X", k)
}

// regText gives string and number values a readable form.
func regText(t uint32, d []byte) (string, *uint64) {
	le := func(b []byte) uint64 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	switch {
	case (t == 1 || t == 2 || t == 7) && len(d)%2 == 0:
		u := make([]rune, 0, len(d)/2)
		for i := 0; i+1 < len(d); i += 2 {
			u = append(u, rune(uint16(d[i])|uint16(d[i+1])<<8))
		}
		s := strings.TrimRight(string(u), "\x00")
		if t == 7 {
			s = strings.ReplaceAll(s, "\x00", "\n")
		}
		return s, nil
	case t == 4 && len(d) == 4, t == 11 && len(d) == 8:
		v := le(d)
		return "", &v
	case t == 5 && len(d) == 4:
		v := uint64(d[0])<<24 | uint64(d[1])<<16 | uint64(d[2])<<8 | uint64(d[3])
		return "", &v
	}
	return "", nil
}

type certStore struct {
	name  string // file name in offline-join/
	certs [][]byte
	pem   []byte
}

// certStores gathers the SST stores of the file's CERT_PROVIDER parts, one
// PEM file per store: root-cas.pem for LocalMachine\Root.
func certStores(j *odj.Join) []certStore {
	var out []certStore
	index := map[string]int{}
	for _, cp := range j.Certs {
		for _, s := range cp.SSTStores {
			name := rootCAFile
			if !(s.StoreLocation == odj.CertSystemStoreLocalMachine && strings.EqualFold(s.StoreName, "Root")) {
				name = fmt.Sprintf("certs-%08x-%s.pem", s.StoreLocation, safeName(s.StoreName))
			}
			certs, _, err := odj.DecodeSST(s.SST)
			if err != nil {
				continue
			}
			i, ok := index[name]
			if !ok {
				i, index[name] = len(out), len(out)
				out = append(out, certStore{name: name})
			}
			for _, c := range certs {
				out[i].certs = append(out[i].certs, c)
				out[i].pem = append(out[i].pem, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
			}
		}
	}
	return out
}

// rootCAs returns the DER certificates of the file's LocalMachine\Root
// stores.
func rootCAs(j *odj.Join) [][]byte {
	for _, s := range certStores(j) {
		if s.name == rootCAFile {
			return s.certs
		}
	}
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
