import { Button } from "./components/ui/button";

export function App() {
  return <Button variant="primary">Hello from the dxforge demo</Button>;
}
