#include "net/identity.h"

#include <cstdio>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSslCertificate>
#include <QSslKey>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "net/base58.h"

namespace corolla {

namespace {

std::string openSslError(const char *what)
{
    char buffer[256] = {};
    ERR_error_string_n(ERR_get_error(), buffer, sizeof buffer);
    return std::string(what) + ": " + buffer;
}

QByteArray rawPublicKey(EVP_PKEY *key)
{
    unsigned char raw[kEd25519PublicKeyBytes];
    std::size_t length = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(key, raw, &length) != 1 || length != sizeof raw)
        return {};
    return QByteArray(reinterpret_cast<const char *>(raw), int(length));
}

// A self-signed X.509 v3 certificate for `key`, valid from an hour ago for 20 years. Its
// only job is to carry the key through TLS; the PeerId check replaces chain validation.
Result<QByteArray> selfSignedCertificate(EVP_PKEY *key)
{
    std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), X509_free);
    if (!certificate)
        return makeError(ErrorCode::Internal, openSslError("X509_new"));
    X509 *x = certificate.get();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 20L * 365 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>("corolla peer"), -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (X509_sign(x, key, nullptr) <= 0) // Ed25519 signs without a separate digest
        return makeError(ErrorCode::Internal, openSslError("X509_sign"));
    unsigned char *der = nullptr;
    const int length = i2d_X509(x, &der);
    if (length <= 0)
        return makeError(ErrorCode::Internal, openSslError("i2d_X509"));
    QByteArray bytes(reinterpret_cast<const char *>(der), length);
    OPENSSL_free(der);
    return bytes;
}

EVP_PKEY *generateKey()
{
    EVP_PKEY *key = nullptr;
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (context && EVP_PKEY_keygen_init(context) == 1)
        EVP_PKEY_keygen(context, &key);
    EVP_PKEY_CTX_free(context);
    return key;
}

} // namespace

QByteArray sha256(const QByteArray &data)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char *>(data.constData()), std::size_t(data.size()),
           digest);
    return QByteArray(reinterpret_cast<const char *>(digest), sizeof digest);
}

std::string shortPeerId(const std::string &peerId)
{
    return peerId.substr(0, kShortPeerIdChars);
}

std::string peerIdFromPublicKey(const QByteArray &publicKey)
{
    const QByteArray digest = sha256(publicKey);
    return base58Encode(std::string_view(digest.constData(), std::size_t(digest.size())));
}

Result<PeerIdentity> PeerIdentity::fromKey(EVP_PKEY *key)
{
    PeerIdentity identity;
    identity.m_key = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
        return makeError(ErrorCode::Format, "the identity key is not an Ed25519 key");
    identity.m_publicKey = rawPublicKey(key);
    if (identity.m_publicKey.isEmpty())
        return makeError(ErrorCode::Internal, openSslError("reading the public key"));
    auto certificate = selfSignedCertificate(key);
    if (!certificate)
        return certificate.error();
    identity.m_certificateDer = *certificate;
    identity.m_peerId = peerIdFromPublicKey(identity.m_publicKey);
    return identity;
}

Result<PeerIdentity> PeerIdentity::generate()
{
    EVP_PKEY *key = generateKey();
    if (!key)
        return makeError(ErrorCode::Internal, openSslError("generating an Ed25519 key"));
    return fromKey(key);
}

Result<PeerIdentity> PeerIdentity::loadOrCreate(const std::string &path)
{
    const QString fileName = QString::fromStdString(path);
    QFile file(fileName);
    if (file.exists()) {
        if (!file.open(QIODevice::ReadOnly))
            return makeError(ErrorCode::Io, path + ": cannot read the identity key: "
                                                + file.errorString().toStdString());
        const QByteArray pem = file.readAll();
        std::unique_ptr<BIO, decltype(&BIO_free)> bio(
            BIO_new_mem_buf(pem.constData(), int(pem.size())), BIO_free);
        EVP_PKEY *key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
        if (!key)
            return makeError(ErrorCode::Format, path + ": not a PEM private key");
        auto identity = fromKey(key);
        if (!identity)
            return makeError(identity.error().code, path + ": " + identity.error().message);
        return identity;
    }

    auto identity = generate();
    if (!identity)
        return identity;
    QDir().mkpath(QFileInfo(fileName).absolutePath());
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    if (PEM_write_bio_PrivateKey(bio.get(), identity->m_key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr)
        != 1)
        return makeError(ErrorCode::Internal, openSslError("encoding the identity key"));
    char *data = nullptr;
    const long length = BIO_get_mem_data(bio.get(), &data);
    // Written to a private temporary name first, so a crash never leaves half a key behind
    // and the key is never readable by others, not even for a moment.
    const QString temporary = fileName + QStringLiteral(".new");
    QFile output(temporary);
    if (!output.open(QIODevice::WriteOnly | QIODevice::Truncate)
        || !output.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner)
        || output.write(data, length) != length || !output.flush())
        return makeError(ErrorCode::Io, path + ": cannot write the identity key: "
                                            + output.errorString().toStdString());
    output.close();
    if (std::rename(temporary.toLocal8Bit().constData(), fileName.toLocal8Bit().constData()) != 0)
        return makeError(ErrorCode::Io, path + ": cannot move the new identity key in place");
    return identity;
}

QByteArray PeerIdentity::sign(const QByteArray &message) const
{
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
    unsigned char signature[kEd25519SignatureBytes];
    std::size_t length = sizeof signature;
    if (!context || EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, m_key.get()) != 1
        || EVP_DigestSign(context.get(), signature, &length,
                          reinterpret_cast<const unsigned char *>(message.constData()),
                          std::size_t(message.size()))
               != 1)
        return {};
    return QByteArray(reinterpret_cast<const char *>(signature), int(length));
}

bool verifyEd25519(const QByteArray &publicKey, const QByteArray &message,
                   const QByteArray &signature)
{
    if (publicKey.size() != kEd25519PublicKeyBytes || signature.size() != kEd25519SignatureBytes)
        return false;
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                    reinterpret_cast<const unsigned char *>(publicKey.constData()),
                                    std::size_t(publicKey.size())),
        EVP_PKEY_free);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                    EVP_MD_CTX_free);
    return key && context
           && EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1
           && EVP_DigestVerify(context.get(),
                               reinterpret_cast<const unsigned char *>(signature.constData()),
                               std::size_t(signature.size()),
                               reinterpret_cast<const unsigned char *>(message.constData()),
                               std::size_t(message.size()))
                  == 1;
}

QByteArray ed25519KeyOfCertificate(const QByteArray &certificateDer)
{
    const auto *data = reinterpret_cast<const unsigned char *>(certificateDer.constData());
    std::unique_ptr<X509, decltype(&X509_free)> certificate(
        d2i_X509(nullptr, &data, long(certificateDer.size())), X509_free);
    if (!certificate)
        return {};
    EVP_PKEY *key = X509_get0_pubkey(certificate.get());
    if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519)
        return {};
    return rawPublicKey(key);
}

QSslConfiguration PeerIdentity::serverConfiguration() const
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setProtocol(QSsl::TlsV1_3OrLater);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    configuration.setLocalCertificate(QSslCertificate(m_certificateDer, QSsl::Der));
    // Qt wraps the EVP_PKEY as an opaque key; it gets its own reference so that whichever
    // side releases first, the key stays valid for the other.
    EVP_PKEY_up_ref(m_key.get());
    configuration.setPrivateKey(QSslKey(Qt::HANDLE(m_key.get()), QSsl::PrivateKey));
    return configuration;
}

QSslConfiguration clientTlsConfiguration()
{
    QSslConfiguration configuration = QSslConfiguration::defaultConfiguration();
    configuration.setProtocol(QSsl::TlsV1_3OrLater);
    configuration.setPeerVerifyMode(QSslSocket::VerifyNone);
    return configuration;
}

Result<PeerIdentity> loadOrCreateLocked(const QString &path, std::unique_ptr<QLockFile> &lock,
                                        bool *shared)
{
    QDir().mkpath(QFileInfo(path).absolutePath());
    lock = std::make_unique<QLockFile>(path + QStringLiteral(".lock"));
    *shared = !lock->tryLock(0);
    if (*shared)
        return PeerIdentity::generate();
    return PeerIdentity::loadOrCreate(path.toStdString());
}

} // namespace corolla
