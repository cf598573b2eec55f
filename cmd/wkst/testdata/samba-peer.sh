#!/bin/sh
# Starts a throwaway standalone Samba smbd on 127.0.0.1:4455 for
# TestSambaPeer, isolated from any other Samba on the host (private
# directories, and empty directories bind-mounted over /run/samba,
# /var/lib/samba and /var/cache/samba in a private mount namespace).
# Run as root:   sh testdata/samba-peer.sh DIR
# then:          WKST_PEER_SERVER=127.0.0.1:4455 WKST_PEER_USER='SMBTEST\root' \
#                WKST_PEER_PASSWORD=Secret-Pw1 WKST_PEER_ACCOUNT='TESTWG\root' \
#                go test -run TestSambaPeer -v ./cmd/wkst
# Stop it with:  kill "$(cat DIR/smbd.pid)"
set -eu
dir=${1:?usage: samba-peer.sh DIR}
mkdir -p "$dir"/etc "$dir"/lock "$dir"/state "$dir"/cache "$dir"/private "$dir"/pid \
	"$dir"/ncalrpc "$dir"/log "$dir"/run "$dir"/varlib "$dir"/varcache
cat >"$dir/etc/smb.conf" <<CONF
[global]
  workgroup = TESTWG
  netbios name = SMBTEST
  server role = standalone server
  interfaces = lo
  bind interfaces only = yes
  smb ports = 4455
  lock directory = $dir/lock
  state directory = $dir/state
  cache directory = $dir/cache
  private dir = $dir/private
  pid directory = $dir/pid
  ncalrpc dir = $dir/ncalrpc
  log file = $dir/log/log.%m
  passdb backend = tdbsam:$dir/private/passdb.tdb
  server min protocol = SMB2_02
  disable netbios = yes
  load printers = no
  printcap name = /dev/null
CONF
cat >"$dir/inner.sh" <<INNER
#!/bin/sh
set -e
mount --bind $dir/run /run/samba
mount --bind $dir/varlib /var/lib/samba
mount --bind $dir/varcache /var/cache/samba
export _NO_WINBINDD=1
printf 'Secret-Pw1\nSecret-Pw1\n' | smbpasswd -c $dir/etc/smb.conf -s -a root
# Samba checks SeMachineAccountPrivilege before it decodes a JOINPR blob.
net -s $dir/etc/smb.conf sam rights grant root SeMachineAccountPrivilege
exec smbd -F --no-process-group -s $dir/etc/smb.conf
INNER
chmod +x "$dir/inner.sh"
unshare --mount --propagation private "$dir/inner.sh" >"$dir/smbd.out" 2>&1 &
echo $! >"$dir/smbd.pid"
sleep 3
echo "smbd started (pid $(cat "$dir/smbd.pid")), log in $dir/smbd.out"
