//! Where emails go: an SMTP server (plain, STARTTLS or TLS, from
//! ROLLCALL_SMTP_URL), or by default `.eml` files in the outbox directory.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::templates::Words;
use crate::config::Config;
use crate::error::Error;
use crate::services::outbox::SendFailure;

/// The longest one email may take to send, connecting included: a mail
/// server that hangs must not hold the outbox worker past its claim.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

/// Sends the outbox's emails from the configured sender.
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let from: Mailbox = config.mail_from.parse().map_err(|error| {
            Error::Invalid(format!(
                "ROLLCALL_MAIL_FROM “{}” is not a mailbox: {error}",
                config.mail_from
            ))
        })?;
        let transport = match &config.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|error| Error::Invalid(format!("ROLLCALL_SMTP_URL is not usable: {error}")))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build(),
            ),
            None => {
                std::fs::create_dir_all(&config.outbox_dir).map_err(|error| {
                    Error::Invalid(format!(
                        "cannot create the outbox directory {}: {error}",
                        config.outbox_dir.display()
                    ))
                })?;
                Transport::Files {
                    transport: AsyncFileTransport::new(&config.outbox_dir),
                    dir: config.outbox_dir.clone(),
                }
            }
        };
        Ok(Self { transport, from })
    }

    /// Whether emails can leave: the SMTP server answers a greeting (within
    /// the send timeout), or the outbox directory takes a file.
    pub async fn check(&self) -> Result<(), String> {
        match &self.transport {
            Transport::Smtp(smtp) => match smtp.test_connection().await {
                Ok(true) => Ok(()),
                Ok(false) => Err("the SMTP server did not accept a connection".to_owned()),
                Err(error) => Err(error.to_string()),
            },
            Transport::Files { dir, .. } => {
                let probe = dir.join(".rollcall-doctor");
                std::fs::write(&probe, b"")
                    .and_then(|()| std::fs::remove_file(&probe))
                    .map_err(|error| format!("cannot write to {}: {error}", dir.display()))
            }
        }
    }

    /// Where emails go, for the log at start.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Smtp(_) => "SMTP".to_owned(),
            Transport::Files { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    fn message(&self, recipient: &str, words: &Words) -> Result<Message, SendFailure> {
        self.build(recipient, words).map_err(|reason| SendFailure {
            reason,
            permanent: true,
        })
    }

    fn build(&self, recipient: &str, words: &Words) -> Result<Message, String> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|error| format!("bad recipient {recipient}: {error}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(words.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                words.text.clone(),
                words.html.clone(),
            ))
            .map_err(|error| format!("cannot build the message: {error}"))
    }

    /// Sends one email, within [`SEND_TIMEOUT`]; the error says why it did not go.
    pub async fn send(&self, recipient: &str, words: &Words) -> Result<(), SendFailure> {
        let message = self.message(recipient, words)?;
        let sent = actix_web::rt::time::timeout(SEND_TIMEOUT, self.deliver(recipient, message)).await;
        sent.unwrap_or_else(|_| {
            Err(SendFailure {
                reason: format!(
                    "no answer from the mail server within {} s",
                    SEND_TIMEOUT.as_secs()
                ),
                permanent: false,
            })
        })
    }

    async fn deliver(&self, recipient: &str, message: Message) -> Result<(), SendFailure> {
        let transient = |error: &dyn std::fmt::Display| SendFailure {
            reason: error.to_string(),
            permanent: false,
        };
        match &self.transport {
            Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|error| SendFailure {
                reason: error.to_string(),
                permanent: error.is_permanent(),
            }),
            Transport::Files { transport, dir } => {
                let id = transport.send(message).await.map_err(|error| transient(&error))?;
                let path = dir.join(format!("{id}.eml"));
                // The log never holds a link (a working secret): the file does.
                tracing::info!(to = %recipient, path = %path.display(), "email written to the outbox");
                Ok(())
            }
        }
    }
}
