// Runs once, on the first start of an empty data volume (official mongo image).
// The app user lives in the application database and may only read and write there.
const name = process.env.MONGO_DATABASE || "ecommerce";
const app = db.getSiblingDB(name);
app.createUser({
  user: process.env.MONGO_APP_USERNAME,
  pwd: process.env.MONGO_APP_PASSWORD,
  roles: [{ role: "readWrite", db: name }],
});
print(`stackproof: app user created in ${name} with readWrite on ${name} only`);
