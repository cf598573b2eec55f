#!/bin/sh
# Entry point of the lab's Samba AD DC service (docker-compose.yml):
# installs Samba on first start, provisions the domain once, then runs the
# DC in the foreground. Its CA certificate is copied to /tls for wkssvcd.
set -eu
: "${REALM:=EXAMPLE.TEST}" "${DOMAIN:=EXAMPLE}" "${ADMIN_PASSWORD:?set ADMIN_PASSWORD}" "${DC_IP:?set DC_IP}"
if ! command -v samba >/dev/null 2>&1; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq samba samba-ad-dc winbind krb5-user ldb-tools >/dev/null
fi
if [ ! -f /var/lib/samba/private/sam.ldb ]; then
	rm -f /etc/samba/smb.conf
	samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --server-role=dc \
		--dns-backend=SAMBA_INTERNAL --adminpass="$ADMIN_PASSWORD" --host-name=dc1 \
		--host-ip="$DC_IP" --option="dns forwarder = 127.0.0.11"
fi
mkdir -p /tls
cp /var/lib/samba/private/tls/ca.pem /tls/ca.pem
exec samba -i -M single
