package sqlrow

import (
	"vigil/internal/access"
	"vigil/internal/record"
)

// ExportColumns are the columns Export scans, in order (the secret is read
// apart, by the store's Export alone).
const ExportColumns = `id, device, epoch, household, name, released_at, deadline`

// Export scans ExportColumns.
func Export(r Scanner) (record.Export, error) { return scanExport(r) }

// ExportWithSecret scans ExportColumns and then the export's secret.
func ExportWithSecret(r Scanner) (record.Export, []byte, error) {
	var secret []byte
	e, err := scanExport(r, &secret)
	return e, secret, err
}

// scanExport scans ExportColumns, then into extra.
func scanExport(r Scanner, extra ...any) (record.Export, error) {
	var (
		e                         record.Export
		device, household         string
		epoch, released, deadline int64
	)
	dest := append([]any{&e.ID, &device, &epoch, &household, &e.Name, &released, &deadline}, extra...)
	if err := r.Scan(dest...); err != nil {
		return e, err
	}
	e.Device, e.Household = access.DeviceID(device), access.UserID(household)
	e.Epoch, e.Released, e.Deadline = FromNanos(epoch), FromNanos(released), FromNanos(deadline)
	return e, nil
}
