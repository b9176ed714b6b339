#!/usr/bin/env bash
# tls-certs.sh — the certificates of a Temporal frontend on TLS, made with
# openssl, for the test bed's cluster and the tests that connect to it.
#
# Usage: tls-certs.sh DIR
#
# Writes into DIR (made mode 700 if missing):
#   ca.pem, ca-key.pem                   the test bed CA
#   server.pem, server-key.pem           the frontend's certificate, signed by the CA, for
#                                        localhost, temporal-cluster (cluster.sh's name),
#                                        127.0.0.1, 127.0.0.2 and 127.0.0.3 (its two
#                                        processes); serverAuth and clientAuth, so it
#                                        serves internode TLS too
#   client.pem, client-key.pem           a client certificate signed by the CA (mTLS)
#   wrong-ca.pem, wrong-ca-key.pem       an unrelated CA, which signed neither
#   wrong-client.pem, wrong-client-key.pem  a client certificate the wrong CA signed
#
# Idempotent: what exists is kept. A certificate is made only when it or its
# key is missing; when the CA is made anew, everything it signs is too.
# Keys are mode 600, certificates 644. Prints the files as NAME=PATH lines
# (eval-able) on stdout, nothing secret; progress goes to stderr.
set -euo pipefail

log() { printf '[tls-certs %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 DIR"
command -v openssl >/dev/null || die "openssl not found (apt-get install openssl)"
DIR=$1
# A directory that exists keeps its mode (it may be /tmp).
[[ -d $DIR ]] || mkdir -p -m 700 "$DIR"
DIR=$(cd "$DIR" && pwd)

DAYS_CA=3650
DAYS_LEAF=825
SERVER_SANS="DNS:localhost,DNS:temporal-cluster,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3"

# have NAME: both NAME.pem and NAME-key.pem exist.
have() { [[ -s $DIR/$1.pem && -s $DIR/$1-key.pem ]]; }

# new_key NAME: a P-256 key in NAME-key.pem, readable by its owner only.
new_key() {
	(umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$DIR/$1-key.pem.tmp")
	mv -f "$DIR/$1-key.pem.tmp" "$DIR/$1-key.pem"
}

# new_ca NAME CN: a self-signed CA.
new_ca() {
	local name=$1 cn=$2
	new_key "$name"
	openssl req -x509 -new -key "$DIR/$name-key.pem" -subj "/CN=$cn" -days "$DAYS_CA" -sha256 \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$DIR/$name.pem.tmp"
	mv -f "$DIR/$name.pem.tmp" "$DIR/$name.pem"
	chmod 644 "$DIR/$name.pem"
	log "made $name.pem ($cn)"
}

# new_leaf NAME CA CN EXTENSIONS: a certificate signed by CA.
new_leaf() {
	local name=$1 ca=$2 cn=$3 ext=$4
	new_key "$name"
	local out
	openssl req -new -key "$DIR/$name-key.pem" -subj "/CN=$cn" -out "$DIR/$name.csr"
	# x509 -req says "Certificate request self-signature ok" on success:
	# shown only when it fails.
	out=$(openssl x509 -req -in "$DIR/$name.csr" -CA "$DIR/$ca.pem" -CAkey "$DIR/$ca-key.pem" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$DAYS_LEAF" -sha256 \
		-extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
			"subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" "$ext") \
		-out "$DIR/$name.pem.tmp" 2>&1) ||
		die "signing $name.pem with $ca.pem: $out"
	rm -f "$DIR/$name.csr"
	mv -f "$DIR/$name.pem.tmp" "$DIR/$name.pem"
	chmod 644 "$DIR/$name.pem"
	log "made $name.pem ($cn, signed by $ca.pem)"
}

fresh_ca=0
if ! have ca; then
	new_ca ca "hoist test bed CA"
	fresh_ca=1
fi
if ! have wrong-ca; then
	new_ca wrong-ca "hoist wrong CA"
	rm -f "$DIR/wrong-client.pem"
fi
if [[ $fresh_ca == 1 ]] || ! have server; then
	new_leaf server ca temporal-cluster "subjectAltName=$SERVER_SANS
extendedKeyUsage=serverAuth,clientAuth"
fi
if [[ $fresh_ca == 1 ]] || ! have client; then
	new_leaf client ca hoist-client "extendedKeyUsage=clientAuth"
fi
if ! have wrong-client; then
	new_leaf wrong-client wrong-ca hoist-intruder "extendedKeyUsage=clientAuth"
fi

# What was kept must still fit together (a CA replaced by hand, say).
for pair in server:ca client:ca wrong-client:wrong-ca; do
	leaf=${pair%%:*} ca=${pair#*:}
	openssl verify -CAfile "$DIR/$ca.pem" "$DIR/$leaf.pem" >/dev/null 2>&1 ||
		die "$DIR/$leaf.pem is not signed by $DIR/$ca.pem: remove both and run again"
	[[ $(openssl x509 -in "$DIR/$leaf.pem" -noout -pubkey) == $(openssl pkey -in "$DIR/$leaf-key.pem" -pubout) ]] ||
		die "$DIR/$leaf-key.pem is not the key of $DIR/$leaf.pem: remove both and run again"
done

cat <<EOF
HOIST_TLS_CA=$DIR/ca.pem
HOIST_TLS_SERVER_CERT=$DIR/server.pem
HOIST_TLS_SERVER_KEY=$DIR/server-key.pem
HOIST_TLS_CLIENT_CERT=$DIR/client.pem
HOIST_TLS_CLIENT_KEY=$DIR/client-key.pem
HOIST_TLS_WRONG_CA=$DIR/wrong-ca.pem
HOIST_TLS_WRONG_CLIENT_CERT=$DIR/wrong-client.pem
HOIST_TLS_WRONG_CLIENT_KEY=$DIR/wrong-client-key.pem
EOF
