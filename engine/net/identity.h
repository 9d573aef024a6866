#pragma once
// A peer's identity: an Ed25519 key pair, the self-signed certificate that TLS presents for
// it, and the PeerId everybody else knows it by, base58(SHA-256(raw public key)).
// Thread: any after construction (the key is immutable; OpenSSL signing is re-entrant).

#include <memory>
#include <string>

#include <QByteArray>
#include <QLockFile>
#include <QSslConfiguration>

#include "core/result.h"

using EVP_PKEY = struct evp_pkey_st;

namespace corolla {

constexpr int kEd25519PublicKeyBytes = 32;
constexpr int kEd25519SignatureBytes = 64;

class PeerIdentity {
public:
    // A fresh key pair, kept in memory only.
    static Result<PeerIdentity> generate();
    // Reads the PEM private key at `path`, or creates it there (mode 0600, parent folders
    // made) when the file does not exist. A file that exists but is not an Ed25519 key is
    // an error, never overwritten.
    static Result<PeerIdentity> loadOrCreate(const std::string &path);

    const std::string &peerId() const { return m_peerId; }
    const QByteArray &publicKey() const { return m_publicKey; } // 32 raw bytes

    QByteArray sign(const QByteArray &message) const;

    // TLS 1.3 settings for a listening socket: this identity's certificate and key, and no
    // verification of clients (clients are anonymous).
    QSslConfiguration serverConfiguration() const;

private:
    static Result<PeerIdentity> fromKey(EVP_PKEY *key);

    std::shared_ptr<EVP_PKEY> m_key;
    QByteArray m_publicKey;
    QByteArray m_certificateDer;
    std::string m_peerId;
};

// base58(SHA-256(publicKey)).
std::string peerIdFromPublicKey(const QByteArray &publicKey);
// The first characters of a peer id: enough to tell peers apart in logs, tables and routes.
constexpr int kShortPeerIdChars = 8;
std::string shortPeerId(const std::string &peerId);
// Whether `signature` is a valid Ed25519 signature of `message` by the raw `publicKey`.
bool verifyEd25519(const QByteArray &publicKey, const QByteArray &message,
                   const QByteArray &signature);
// The raw Ed25519 public key inside a DER certificate; empty when it holds another kind.
QByteArray ed25519KeyOfCertificate(const QByteArray &certificateDer);
// TLS 1.3 settings for an outgoing connection. The certificate is self-signed, so the chain
// is not verified; the caller checks the certificate's key against the expected PeerId.
QSslConfiguration clientTlsConfiguration();

QByteArray sha256(const QByteArray &data);

// The identity in the key file `path`, held with `lock` so that one process at a time
// speaks as it. When another process holds it (a second server on this machine), a fresh
// identity of its own, and `*shared` is set.
Result<PeerIdentity> loadOrCreateLocked(const QString &path, std::unique_ptr<QLockFile> &lock,
                                        bool *shared);

} // namespace corolla
