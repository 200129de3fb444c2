package gsstore

import (
	"context"
	"net/http"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/httptransport"
	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"google.golang.org/api/option"
)

// sdkAttempts is small because storage.RetryPolicy retries on top of it.
const sdkAttempts = 3

// NoCredentialsError says that no Google credentials were found, and how
// to provide them, in one line (the cause stays reachable by errors.As).
type NoCredentialsError struct{ cause error }

func (NoCredentialsError) Error() string {
	return "no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service account key file, " +
		"or run `gcloud auth application-default login`; on Google Cloud, attach a service account"
}

// Unwrap makes it match storage.ErrAuth.
func (e NoCredentialsError) Unwrap() []error { return []error{storage.ErrAuth, e.cause} }

// xmlEndpoint is Cloud Storage's XML API, where objects are
// <xmlEndpoint>/<bucket>/<name>.
const xmlEndpoint = "https://storage.googleapis.com"

// newClient builds the GCS client over the process's shared connection
// pool: authenticated with the application default credentials, or
// unauthenticated against an emulator. It also returns the HTTP client the
// GCS client uses, for the requests it cannot make (conditional reads).
func newClient(ctx context.Context, loc location) (*gcs.Client, *http.Client, *httpx.Client, error) {
	hc, err := httpx.New(httpx.Options{Timeout: loc.timeout})
	if err != nil {
		return nil, nil, nil, err
	}
	var opts []option.ClientOption
	web := hc.HTTP
	if loc.endpoint != "" {
		opts = append(opts, option.WithEndpoint(loc.endpoint+"/storage/v1/"),
			option.WithoutAuthentication(), option.WithHTTPClient(web))
	} else {
		creds, err := credentials.DetectDefault(&credentials.DetectOptions{Scopes: []string{gcs.ScopeFullControl}})
		if err != nil {
			hc.Close()
			return nil, nil, nil, NoCredentialsError{cause: err}
		}
		web, err = httptransport.NewClient(&httptransport.Options{Credentials: creds, BaseRoundTripper: hc.HTTP.Transport})
		if err != nil {
			hc.Close()
			return nil, nil, nil, NoCredentialsError{cause: err}
		}
		opts = append(opts, option.WithHTTPClient(web), option.WithAuthCredentials(creds))
	}
	client, err := gcs.NewClient(ctx, opts...)
	if err != nil {
		hc.Close()
		return nil, nil, nil, err
	}
	client.SetRetry(gcs.WithMaxAttempts(sdkAttempts), gcs.WithErrorFunc(func(err error) bool {
		// Stalls and range faults are retried by the storage layer.
		return !httpx.Handled(err) && gcs.ShouldRetry(err)
	}))
	return client, web, hc, nil
}
